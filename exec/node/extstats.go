package node

import (
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/totem/transport"
)

// extPrefix is where the daemon publishes the counters Corosync has no
// key for: the transport's (udpu and udp count nothing in Corosync),
// srp's extra ones, and the drops of bad input on the way in. They sit in
// the stats map beside Corosync's, so `corosync-cmapctl -m stats` shows
// them and `-C totem`/`-C all` restart them.
const extPrefix = "stats.ringfence."

// undecodableWarnEvery bounds the warning about undecodable datagrams: a
// peer sending garbage is worth an operator's attention, but not a log
// line per packet.
const undecodableWarnEvery = time.Minute

// extCounters are the node's own counters, and where every published
// counter stood at the last clear.
type extCounters struct {
	undecodable uint64
	// unwarned counts undecodable datagrams since the last warning.
	unwarned uint64
	warnedAt time.Time
	base     map[string]uint64
}

// undecodable counts a datagram that is not a Totem message, logs it at
// debug level and, at most once a minute, warns with the count.
func (n *Node) undecodable(dg transport.Datagram, err error) {
	n.ext.undecodable++
	n.ext.unwarned++
	l := n.log.WithField("subsys", SubsysTotem)
	l.WithError(err).Debugf("dropping undecodable datagram from %s", dg.From)
	if now := time.Now(); now.Sub(n.ext.warnedAt) >= undecodableWarnEvery {
		l.Warnf("Dropped %d datagram(s) that are not Totem messages (last from %s: %v); see %stotem.undecodable",
			n.ext.unwarned, dg.From, err, extPrefix)
		n.ext.unwarned = 0
		n.ext.warnedAt = now
	}
}

// extStats gathers the counters, by name below extPrefix.
func (n *Node) extStats() map[string]uint64 {
	m := map[string]uint64{}
	if n.tr != nil {
		for k, v := range n.tr.Stats().Keys() {
			m["transport."+k] = v
		}
	}
	st := n.srp.Stats()
	m["srp.token_forward_tx"] = st.TokenForwardTx
	m["srp.pause_flushes"] = st.PauseFlushes
	m["totem.undecodable"] = n.ext.undecodable
	c := n.engine.Counters()
	for k, v := range map[string]uint64{
		"short":           c.Short,
		"unknown_service": c.UnknownService,
		"unknown_fn":      c.UnknownFn,
		"malformed":       c.Malformed,
		"sync_malformed":  c.SyncMalformed,
		"sync_old_ring":   c.SyncOldRing,
	} {
		m["exec."+k] = v
	}
	return m
}

// publishExtStats writes the counters since the last clear.
func (n *Node) publishExtStats() {
	for k, v := range n.extStats() {
		if b := n.ext.base[k]; v >= b {
			v -= b
		}
		if err := n.stats.Set(extPrefix+k, cmap.U64(v)); err != nil {
			n.log.WithField("subsys", SubsysMain).WithError(err).Debugf("publishing %s%s", extPrefix, k)
		}
	}
}

// clearExtStats restarts the published counters from zero.
func (n *Node) clearExtStats() { n.ext.base = n.extStats() }
