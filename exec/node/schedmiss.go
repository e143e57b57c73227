package node

import (
	"fmt"
	"time"

	"github.com/ringfence/ringfence/cmap"
)

// Corosync warns when its main loop did not run for most of a token
// timeout ("Corosync main process was not scheduled ..."): a paused or
// starved daemon is the usual cause of a spurious membership change, and
// the warning tells the operator so. Each miss is also kept, newest
// first, under stats.schedmiss.<i>.{timestamp,delay}.

// maxSchedmissEvents is Corosync's MAX_SCHEDMISS_EVENTS.
const maxSchedmissEvents = 10

// schedWatch measures the gaps between the loop's periodic checks.
type schedWatch struct {
	prev   time.Time
	events []schedmissEvent // newest first
}

type schedmissEvent struct {
	at    time.Time
	delay time.Duration
}

// observe records a check at now and reports the gap since the previous
// one when it exceeds the threshold (Corosync: 80% of the token timeout,
// re-read at every check so that a reload takes effect). The first check
// only starts the clock.
func (w *schedWatch) observe(now time.Time, token time.Duration) (time.Duration, bool) {
	prev := w.prev
	w.prev = now
	if prev.IsZero() {
		return 0, false
	}
	gap := now.Sub(prev)
	return gap, gap > token*8/10
}

// schedCheck runs on the loop's retry tick, which fires every 100 ms
// while the loop is scheduled (Corosync checks every third of a token).
func (n *Node) schedCheck() {
	now := time.Now()
	token := n.settings.Timing.Token
	gap, missed := n.sched.observe(now, token)
	if !missed {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	n.log.WithField("subsys", SubsysMain).Warnf("Corosync main process was not scheduled (@%d) for %0.4f ms (threshold is %0.4f ms). Consider token timeout increase.",
		now.UnixMilli(), ms(gap), ms(token*8/10))
	n.sched.events = append([]schedmissEvent{{now, gap}}, n.sched.events...)
	if len(n.sched.events) > maxSchedmissEvents {
		n.sched.events = n.sched.events[:maxSchedmissEvents]
	}
	n.publishSchedmiss()
}

func (n *Node) publishSchedmiss() {
	for i, e := range n.sched.events {
		p := fmt.Sprintf("stats.schedmiss.%d.", i)
		_ = n.stats.Set(p+"timestamp", cmap.U64(uint64(e.at.UnixMilli())))
		_ = n.stats.Set(p+"delay", cmap.Flt(float32(float64(e.delay)/float64(time.Millisecond))))
	}
}

// clearSchedmiss is corosync-cmapctl -C schedmiss (and all): the events
// and their keys go.
func (n *Node) clearSchedmiss() {
	n.sched.events = nil
	n.stats.DeletePrefix("stats.schedmiss.")
}
