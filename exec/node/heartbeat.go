package node

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/totem/heartbeat"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Heartbeat settings. Corosync (and our parser) accept an extra top-level
// section, so these keys live in corosync.conf without breaking it:
//
//	ringfence {
//	        heartbeat: on            # on (default; off on loopback), userspace, off
//	        heartbeat_port: 5407     # default: totem mcastport + 2
//	        heartbeat_interval: 50   # ms between probes
//	        heartbeat_misses: 4      # silent intervals on every link = unreachable
//	}
//
// RINGFENCE_HEARTBEAT=on|userspace|off in the environment overrides the
// key (handy for comparing runs without editing the file).
const (
	hbEnv       = "RINGFENCE_HEARTBEAT"
	hbKeyMode   = "ringfence.heartbeat"
	hbKeyPort   = "ringfence.heartbeat_port"
	hbKeyIntv   = "ringfence.heartbeat_interval"
	hbKeyMisses = "ringfence.heartbeat_misses"
	hbRuntime   = "runtime.heartbeat."
)

// HeartbeatSettings is what the node takes from the ringfence section.
type HeartbeatSettings struct {
	Mode     string // "on", "userspace" or "off"
	Port     uint16
	Interval time.Duration
	Misses   int
}

// heartbeatSettings reads the keys and the environment; bad values are
// errors, so a typo does not silently turn the fast path off.
func heartbeatSettings(cfg *coroconf.Config, s Settings) (HeartbeatSettings, error) {
	h := HeartbeatSettings{Mode: "on", Port: s.Port + heartbeat.PortOffset, Interval: heartbeat.DefaultInterval, Misses: heartbeat.DefaultMisses}
	str := func(k string) (string, bool) {
		v, ok := cfg.Get(k)
		if !ok {
			return "", false
		}
		x, ok := v.AsString()
		return strings.TrimSpace(x), ok
	}
	num := func(k string, lo, hi uint64) (uint64, bool, error) {
		x, ok := str(k)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseUint(x, 10, 32)
		if err != nil || n < lo || n > hi {
			return 0, false, fmt.Errorf("%s: %q is not a number in %d..%d", k, x, lo, hi)
		}
		return n, true, nil
	}
	if m, ok := str(hbKeyMode); ok {
		h.Mode = m
	}
	if m := os.Getenv(hbEnv); m != "" {
		h.Mode = m
	}
	switch h.Mode {
	case "on", "yes", "1":
		h.Mode = "on"
	case "off", "no", "0":
		h.Mode = "off"
	case "userspace":
	default:
		return h, fmt.Errorf("%s: %q: want on, userspace or off", hbKeyMode, h.Mode)
	}
	if n, ok, err := num(hbKeyPort, 1, 65535); err != nil {
		return h, err
	} else if ok {
		h.Port = uint16(n)
	}
	if n, ok, err := num(hbKeyIntv, 5, 10000); err != nil {
		return h, err
	} else if ok {
		h.Interval = time.Duration(n) * time.Millisecond
	}
	if n, ok, err := num(hbKeyMisses, 2, 100); err != nil {
		return h, err
	} else if ok {
		h.Misses = int(n)
	}
	return h, nil
}

// hbState is the node's heartbeat. Probing runs on a goroutine of its own
// so that it costs the event loop no wake-ups; the loop only stamps (on
// every turn, see heartbeatStamp) and hears about unreachable peers and,
// once a second, the figures to publish. A stalled loop stops stamping,
// which is the point.
type hbState struct {
	eng    *heartbeat.Engine
	events chan hbEvent
	done   chan struct{}
	wg     sync.WaitGroup
	mode   string // last published runtime.heartbeat.mode
}

type hbEvent struct {
	unreachable []uint32
	links       []heartbeat.LinkStatus // a snapshot to publish
}

// openHeartbeat starts the heartbeat when the node runs its own sockets.
// A failure to start it is logged and the node runs without it: the token
// still detects failures, only more slowly.
func (n *Node) openHeartbeat() error {
	hs, err := heartbeatSettings(n.opts.Config, n.settings)
	if err != nil {
		return err
	}
	log := n.log.WithField("subsys", SubsysTotem)
	if n.opts.Transport != nil {
		return nil // a memory network: nothing to probe
	}
	if hs.Mode == "off" {
		log.Info("heartbeat: off (ringfence.heartbeat or RINGFENCE_HEARTBEAT); failures are detected by token loss only")
		return nil
	}
	local, _ := n.settings.Local()
	if hs.Mode == "on" && local.Addr.IsLoopback() {
		// Every node on one host: there is no link to lose, and the
		// token already covers a dying process. Asking for userspace
		// explicitly still runs it.
		log.Info("heartbeat: off on a loopback address (ringfence.heartbeat: userspace forces it)")
		return nil
	}
	var peers []heartbeat.Peer
	for _, m := range n.settings.Members {
		peers = append(peers, heartbeat.Peer{NodeID: m.NodeID, Addr: m.Addr})
	}
	// One link: udp and udpu allow a single interface in Corosync (a
	// second is refused as "too many configured interfaces for non-Knet
	// transport"), so link 0 is every link there is.
	eng, err := heartbeat.Open(heartbeat.Config{
		NodeID: n.settings.NodeID, Port: hs.Port, Interval: hs.Interval, Misses: hs.Misses,
		Grace: n.settings.Timing.Token, NoBPF: hs.Mode == "userspace",
		Links: []heartbeat.LinkConfig{{Number: 0, Local: local.Addr, Peers: peers}},
		Log:   log,
	})
	if err != nil {
		log.WithError(err).Warn("heartbeat: cannot start; failures are detected by token loss only")
		return nil
	}
	hb := &hbState{eng: eng, events: make(chan hbEvent, 16), done: make(chan struct{}), mode: eng.Mode()}
	n.hb = hb
	if m, ok := n.tr.(unreachableMuter); ok {
		// No multicast copies to a member whose link is down (see
		// transport.UDPU.SetUnreachable).
		m.SetUnreachable(eng.Unreachable)
	}
	log.Infof("heartbeat: port %d, every %v, unreachable after %d silent intervals on every link, answered by %s",
		hs.Port, hs.Interval, hs.Misses, hb.mode)
	_ = n.store.Set(hbRuntime+"mode", cmap.Str(hb.mode))
	hb.wg.Add(1)
	go hb.run(hs.Interval)
	return nil
}

// run ticks the engine every interval. It sleeps in clock_nanosleep, not
// on a Go timer: a timer wakes the goroutine through the runtime's timer
// and netpoller hand-offs (a futex wake of an idle thread, the sysmon
// thread spinning up again), which at 20 ticks a second cost more CPU
// than the probes themselves. The blocked thread is woken by the kernel
// directly and runs the tick on its way back. Close is noticed within
// one interval.
func (hb *hbState) run(every time.Duration) {
	defer hb.wg.Done()
	publish := max(1, int(time.Second/every))
	next := heartbeat.Monotonic()
	for i := 1; ; i++ {
		next += uint64(every)
		if now := heartbeat.Monotonic(); now > next+uint64(every) {
			next = now // fell behind (a stalled process): no burst of ticks
		}
		ts := unix.NsecToTimespec(int64(next))
		for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
		}
		select {
		case <-hb.done:
			return
		default:
		}
		ev := hbEvent{unreachable: hb.eng.Tick()}
		if i%publish == 0 {
			ev.links = hb.eng.Links()
		}
		if ev.unreachable == nil && ev.links == nil {
			continue
		}
		select {
		case hb.events <- ev:
		case <-hb.done:
			return
		}
	}
}

// timelineEnv=1 logs every totem state change at notice level instead of
// debug, so that failover benchmarks can line up detection and formation
// across the daemons' logs without the volume of full debug logging.
const timelineEnv = "RINGFENCE_TIMELINE"

var timelineOn = os.Getenv(timelineEnv) == "1"

// stateChanged logs a totem state change and tells the heartbeat: while a
// membership change is under way every peer is probed and judged, not
// only the watched neighbours (heartbeat.Engine.SetWide).
func (n *Node) stateChanged(l *logrus.Entry, to srp.State) {
	if n.hb != nil {
		n.hb.eng.SetWide(to != srp.StateOperational)
	}
	if timelineOn {
		l.Infof("entering %s state", to)
		return
	}
	l.Debugf("entering %s state", to)
}

// heartbeatC is the event channel for the loop (nil: never ready).
func (n *Node) heartbeatC() <-chan hbEvent {
	if n.hb == nil {
		return nil
	}
	return n.hb.events
}

// heartbeatGrace follows a reloaded token timeout: the responders answer
// for as long after the last stamp as the token tolerates a silent daemon.
func (n *Node) heartbeatGrace(token time.Duration) {
	if n.hb == nil {
		return
	}
	n.hb.eng.SetGrace(token)
	n.log.WithField("subsys", SubsysTotem).Infof("heartbeat: answers stop %v after the daemon stops turning (token timeout)", n.hb.eng.Grace())
}

// heartbeatStamp tells the responders that the loop is turning.
func (n *Node) heartbeatStamp() {
	if n.hb != nil {
		n.hb.eng.Stamp()
	}
}

// heartbeatEvent turns "unreachable on every link" into an immediate
// membership change and publishes the figures.
func (n *Node) heartbeatEvent(ev hbEvent) {
	if len(ev.unreachable) > 0 {
		n.srp.Tick(n.now())
	}
	for _, id := range ev.unreachable {
		if !n.hb.eng.Unreachable(id) {
			n.log.WithField("subsys", SubsysTotem).Infof("heartbeat: node %d answered again before the report was handled", id)
			continue
		}
		if n.srp.PeerUnreachable(id) {
			n.log.WithField("subsys", SubsysTotem).Infof("heartbeat: node %d unreachable on every link, forming a new membership", id)
		} else {
			l := n.log.WithField("subsys", SubsysTotem)
			if timelineOn {
				l.Infof("heartbeat: node %d unreachable on every link (already being removed)", id)
			} else {
				l.Debugf("heartbeat: node %d unreachable on every link (not a member, or already being removed)", id)
			}
		}
	}
	if ev.links != nil {
		n.publishHeartbeat(ev.links)
	}
}

// publishHeartbeat writes runtime.heartbeat.<nodeid>.link<N>.* for
// `ringfence netmon` and corosync-cmapctl, and the mode again when it
// changed: a restarted responder process has a new pid, and one given
// up on leaves the answering to the daemon.
func (n *Node) publishHeartbeat(links []heartbeat.LinkStatus) {
	if m := n.hb.eng.Mode(); m != n.hb.mode {
		n.hb.mode = m
		_ = n.store.Set(hbRuntime+"mode", cmap.Str(m))
	}
	for _, l := range links {
		p := fmt.Sprintf("%s%d.link%d.", hbRuntime, l.Node, l.Link)
		set := func(k string, v cmap.Value) { _ = n.store.Set(p+k, v) }
		set("rtt_us", cmap.U64(uint64(l.RTT/time.Microsecond)))
		set("loss_permille", cmap.U32(uint32(l.Loss*1000+0.5)))
		last := int64(-1)
		if l.LastSeen >= 0 {
			last = l.LastSeen.Milliseconds()
		}
		set("last_seen_ms", cmap.I64(last))
		set("sent", cmap.U64(l.Sent))
		set("answers", cmap.U64(l.Answers))
		set("probes_rx", cmap.U64(l.Probes))
		set("replied", cmap.U64(l.Replied))
		set("ringfenced", cmap.U8(b2u8(l.Fenced)))
		set("reachable", cmap.U8(b2u8(l.Reachable)))
		set("addr", cmap.Str(l.Addr.String()))
	}
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// unreachableMuter is a transport that can leave unreachable members out
// of its multicasts (udpu; udp sends one datagram to the group).
type unreachableMuter interface {
	SetUnreachable(func(nodeID uint32) bool)
}

func (n *Node) closeHeartbeat() {
	if n.hb == nil {
		return
	}
	if m, ok := n.tr.(unreachableMuter); ok {
		m.SetUnreachable(nil)
	}
	close(n.hb.done)
	n.hb.wg.Wait()
	n.hb.eng.Close()
	n.hb = nil
}
