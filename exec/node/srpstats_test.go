package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/tools/netns"
	"github.com/ringfence/ringfence/totem/srp"
)

// The computed stats.srp keys on a running one-node ring: Corosync's
// types, token figures that follow the ring, the multicast failure count
// (udp only) with the firewall flag and warning, and -C totem.
func TestTotemHealthStats(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ring on loopback")
	}
	tn := startNode(t, loopbackConf(1, netns.FreeLoopbackPort(t, 1), 1000), 1, t.TempDir())
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	time.Sleep(500 * time.Millisecond) // some token rotations
	n := tn.n
	get := func(key string, typ cmap.Type) uint64 {
		t.Helper()
		v, err := n.stats.Get(key)
		if err != nil || v.Type != typ {
			t.Fatalf("%s: %v (type %v, want %v)", key, err, v.Type, typ)
		}
		u, _ := v.AsUint64()
		return u
	}
	do := func(f func()) {
		t.Helper()
		if err := n.Do(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	do(n.publishStats)
	// Bounds are the token timeout: a live ring, on a loaded machine too.
	if ms := get("stats.srp.time_since_token_last_received", cmap.TypeUint64); ms > 1000 {
		t.Errorf("time_since_token_last_received %d ms on a live ring", ms)
	}
	// An idle ring's representative holds the token (hold timeout about
	// 180 ms here): the mean rotation is some milliseconds.
	if ms := get("stats.srp.mtt_rx_token", cmap.TypeUint32); ms == 0 || ms > 1000 {
		t.Errorf("mtt_rx_token %d ms", ms)
	}
	get("stats.srp.avg_token_workload", cmap.TypeUint32)
	get("stats.srp.avg_backlog_calc", cmap.TypeUint32)
	if v := get("stats.pg.msg_queue_avail", cmap.TypeUint32); v == 0 {
		t.Error("stats.pg.msg_queue_avail 0 on an idle ring")
	}
	get("stats.pg.msg_reserved", cmap.TypeUint32)

	fail := errors.New("sendmsg: no route")
	sendFailures := func(count int) {
		do(func() {
			for range count {
				n.mcastSent(fail)
			}
			n.publishStats()
		})
	}
	// udpu: Corosync's udpu transport does not count them.
	sendFailures(40)
	if v := get("stats.srp.continuous_sendmsg_failures", cmap.TypeUint32); v != 0 {
		t.Errorf("udpu counted %d multicast failures", v)
	}
	do(func() { n.settings.Transport = coroconf.TransportUDP })
	sendFailures(30)
	if get("stats.srp.continuous_sendmsg_failures", cmap.TypeUint32) != 30 || get("stats.srp.firewall_enabled_or_nic_failure", cmap.TypeUint8) != 0 {
		t.Error("30 failures: want the count and no alarm (Corosync's threshold is more than 30)")
	}
	sendFailures(1)
	if get("stats.srp.firewall_enabled_or_nic_failure", cmap.TypeUint8) != 1 {
		t.Error("31 failures did not raise firewall_enabled_or_nic_failure")
	}
	const warning = "warning [MAIN  ] Totem is unable to form a cluster because of an operating system or network fault (reason: number of multicast sendmsg failures is above threshold). The most common cause of this message is that the local firewall is configured improperly."
	if !strings.Contains(tn.log.String(), warning) {
		t.Errorf("no firewall warning in:\n%s", tn.log.String())
	}
	do(func() { n.mcastSent(nil); n.publishStats() })
	if get("stats.srp.continuous_sendmsg_failures", cmap.TypeUint32) != 0 || get("stats.srp.firewall_enabled_or_nic_failure", cmap.TypeUint8) != 0 {
		t.Error("a successful multicast did not end the failure run")
	}

	// -C totem forgets the token log: no average until tokens come again.
	do(func() { n.clearStats("totem"); n.publishStats() })
	if get("stats.srp.mtt_rx_token", cmap.TypeUint32) != 0 {
		t.Error("mtt_rx_token survived -C totem")
	}
}

func TestTokenTimingLines(t *testing.T) {
	tm := srp.Timing{Token: 3650 * time.Millisecond, TokenRetransmit: 869 * time.Millisecond, TokenWarning: 75}
	want := []string{"Token Timeout (3650 ms) retransmit timeout (869 ms)", "Token warning every 2737 ms (75% of Token Timeout)"}
	if got := tokenTimingLines(tm); !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	tm.TokenWarning = 20 // 730 ms < 869 ms
	if got := tokenTimingLines(tm); len(got) != 3 || !strings.HasPrefix(got[2], "The token warning interval (730 ms) is less than the token retransmit timeout (869 ms)") {
		t.Errorf("got %q", got)
	}
	tm.TokenWarning = 0
	if got := tokenTimingLines(tm); len(got) != 2 || got[1] != "Token warnings disabled" {
		t.Errorf("got %q", got)
	}
}

// avg_token_workload covers sending the token and delivering what the
// visit let through, as Corosync's does: with deliveries that take 2 ms
// each, the mean hold over a burst is milliseconds, not 0.
func TestAvgTokenWorkloadCountsDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ring on loopback")
	}
	tn := startNode(t, loopbackConf(1, netns.FreeLoopbackPort(t, 1), 1000), 1, t.TempDir())
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	tn.slow.Store(int64(2 * time.Millisecond))
	const count = 300
	for i := range count {
		if err := tn.n.Multicast(context.Background(), []byte(fmt.Sprint("w", i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(tn.messages()) < count {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered", len(tn.messages()), count)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var v uint64
	if err := tn.n.Do(context.Background(), func() {
		tn.n.publishStats()
		if val, err := tn.n.stats.Get("stats.srp.avg_token_workload"); err == nil && val.Type == cmap.TypeUint32 {
			v, _ = val.AsUint64()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// At least one 2 ms delivery per visit on average (the last 100
	// visits carried the 300 messages, minus a few idle ones); at most
	// the token timeout, or the ring would have failed.
	if v < 1 || v >= 1000 {
		t.Fatalf("avg_token_workload %d ms after %d deliveries of 2 ms", v, count)
	}
	t.Logf("avg_token_workload %d ms", v)
}
