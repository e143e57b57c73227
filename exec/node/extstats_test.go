package node

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/tools/netns"
)

// Garbage from a member's address is dropped, counted under
// stats.ringfence.totem.undecodable and warned about once; garbage from an
// address outside the nodelist is counted by the transport; -C totem
// restarts the counters.
func TestExtStatsCountBadDatagrams(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ring on loopback")
	}
	port := netns.FreeLoopbackPort(t, 1)
	tn := startNode(t, loopbackConf(1, port, 1000), 1, t.TempDir())
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	n := tn.n
	read := func() map[string]uint64 {
		t.Helper()
		got := map[string]uint64{}
		if err := n.Do(context.Background(), func() {
			n.publishStats()
			for _, k := range []string{"totem.undecodable", "transport.dropped_unlisted", "transport.rx_datagrams", "transport.tx_datagrams", "srp.token_forward_tx", "exec.malformed"} {
				v, err := n.stats.Get(extPrefix + k)
				if err != nil || v.Type != cmap.TypeUint64 {
					t.Errorf("%s%s: %v (type %v)", extPrefix, k, err, v.Type)
					continue
				}
				got[k], _ = v.AsUint64()
			}
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	send := func(from string, payload string) {
		t.Helper()
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)}, &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(key string, want uint64) map[string]uint64 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := read()
			if got[key] == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d, want %d", key, got[key], want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	got := read()
	if got["transport.rx_datagrams"] == 0 || got["transport.tx_datagrams"] == 0 {
		t.Errorf("a live one-node ring counted no datagrams: %v", got)
	}
	if got["totem.undecodable"] != 0 || got["transport.dropped_unlisted"] != 0 {
		t.Errorf("bad-input counters before any bad input: %v", got)
	}
	send("127.0.0.1", "not a totem message")
	waitFor("totem.undecodable", 1)
	send("127.0.0.1", "\xc0\x70 short")
	waitFor("totem.undecodable", 2)
	const warning = "Dropped 1 datagram(s) that are not Totem messages"
	if c := strings.Count(tn.log.String(), "that are not Totem messages"); c != 1 || !strings.Contains(tn.log.String(), warning) {
		t.Errorf("want one warning (%q) for two datagrams within a minute, log has %d:\n%s", warning, c, tn.log.String())
	}
	send("127.0.0.9", "from outside the nodelist")
	got = waitFor("transport.dropped_unlisted", 1)
	if got["totem.undecodable"] != 2 {
		t.Errorf("an unlisted datagram reached the decoder: %v", got)
	}
	waitRing(t, []*testNode{tn}, []uint32{1}, 5*time.Second) // still running

	if err := n.Do(context.Background(), func() { n.clearStats("totem") }); err != nil {
		t.Fatal(err)
	}
	got = read()
	if got["totem.undecodable"] != 0 || got["transport.dropped_unlisted"] != 0 {
		t.Errorf("-C totem left %v", got)
	}
	send("127.0.0.1", "again")
	waitFor("totem.undecodable", 1)
}
