package node

import (
	"fmt"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/totem/srp"
)

// Corosync's thresholds (totem.h) past which totem is reported as unable
// to form a cluster.
const (
	maxContinuousGather        = 3  // MAX_NO_CONT_GATHER
	maxContinuousSendmsgFailed = 30 // MAX_NO_CONT_SENDMSG_FAILURES
)

// tokenMeans are the last computed token averages: Corosync keeps
// publishing them while no new token arrives.
type tokenMeans struct{ rotation, hold, backlog uint32 }

// mcastSent counts consecutive failed multicasts, as Corosync's udp
// transport does for stats.srp.continuous_sendmsg_failures (its udpu
// transport does not count them, nor do we for udpu).
func (n *Node) mcastSent(err error) {
	if n.settings.Transport != coroconf.TransportUDP {
		return
	}
	if err != nil {
		n.mcastFailures++
	} else {
		n.mcastFailures = 0
	}
}

// publishTotemHealth writes the stats.srp keys Corosync's periodic stats
// updater computes rather than counts, with Corosync's types, and warns
// like it when totem cannot form a cluster. avg_token_workload is the
// mean time from taking a token in to having sent it on and delivered
// the messages it let through (pump reports that end to srp), in whole
// milliseconds as Corosync's: a lightly loaded ring reads 0 there too.
func (n *Node) publishTotemHealth(st srp.Stats) {
	tt := n.srp.TokenTimes()
	if tt.Tokens > 0 {
		n.tokenMeans = tokenMeans{uint32(tt.Rotation.Milliseconds()), uint32(tt.Hold.Milliseconds()), tt.Backlog}
	}
	set := func(k string, v cmap.Value) { _ = n.stats.Set("stats.srp."+k, v) }
	set("mtt_rx_token", cmap.U32(n.tokenMeans.rotation))
	set("avg_token_workload", cmap.U32(n.tokenMeans.hold))
	set("avg_backlog_calc", cmap.U32(n.tokenMeans.backlog))
	set("time_since_token_last_received", cmap.U64(uint64(tt.SinceLast.Milliseconds())))
	set("continuous_sendmsg_failures", cmap.U32(n.mcastFailures))
	reason := ""
	if n.mcastFailures > maxContinuousSendmsgFailed {
		reason = "number of multicast sendmsg failures is above threshold"
	}
	if st.ContinuousGather > maxContinuousGather {
		reason = "totem is continuously in gather state"
	}
	var failing uint8
	if reason != "" {
		failing = 1
		n.log.WithField("subsys", SubsysMain).Warnf("Totem is unable to form a cluster because of an operating system or network fault (reason: %s). The most common cause of this message is that the local firewall is configured improperly.", reason)
	}
	set("firewall_enabled_or_nic_failure", cmap.U8(failing))
}

// clearTotemHealth is the part of corosync-cmapctl -C totem that these
// keys need: Corosync zeroes the token log, the averages and the
// sendmsg failure count with the rest of its stats structure.
func (n *Node) clearTotemHealth() {
	n.srp.ClearTokenTimes()
	n.tokenMeans = tokenMeans{}
	n.mcastFailures = 0
}

// tokenTimingLines are the debug lines Corosync's totemsrp logs at start
// about the token timeouts and the late-token warning.
func tokenTimingLines(t srp.Timing) []string {
	lines := []string{fmt.Sprintf("Token Timeout (%d ms) retransmit timeout (%d ms)", t.Token.Milliseconds(), t.TokenRetransmit.Milliseconds())}
	if t.TokenWarning == 0 {
		return append(lines, "Token warnings disabled")
	}
	warnMs := int64(t.TokenWarning) * t.Token.Milliseconds() / 100
	lines = append(lines, fmt.Sprintf("Token warning every %d ms (%d%% of Token Timeout)", warnMs, t.TokenWarning))
	if rt := t.TokenRetransmit.Milliseconds(); warnMs < rt {
		lines = append(lines, fmt.Sprintf("The token warning interval (%d ms) is less than the token retransmit timeout (%d ms) "+
			"which can lead to spurious token warnings. Consider increasing the token_warning parameter.", warnMs, rt))
	}
	return lines
}
