package transport

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
	"github.com/ringfence/ringfence/totem/wire"
)

// handJoin builds a MEMB_JOIN the way corosync 3.1.7 lays it out on an
// x86 host (research notes 3.1 and 3.4), without totem/wire, so this test
// checks addressing independently of the codec.
func handJoin(from uint32, ringSeq uint64, proc, failed []uint32) []byte {
	le := binary.LittleEndian
	b := []byte{0x70, 0xc0, 3, 3, 0} // magic, version 3, type JOIN, not encapsulated
	b = le.AppendUint32(b, from)     // header nodeid
	b = le.AppendUint32(b, 0)        // target_nodeid: unused on udpu
	b = le.AppendUint32(b, from)     // system_from
	b = le.AppendUint32(b, uint32(len(proc)))
	b = le.AppendUint32(b, uint32(len(failed)))
	b = le.AppendUint64(b, ringSeq)
	for _, id := range append(slices.Clone(proc), failed...) {
		b = le.AppendUint32(b, id)
	}
	return b
}

func TestHandJoinMatchesCodec(t *testing.T) {
	b := handJoin(2, 8, []uint32{1, 2}, nil)
	if len(b) != 41 { // "join with 2 procs = 41 bytes"
		t.Fatalf("join is %d bytes", len(b))
	}
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	j, ok := m.(*wire.Join)
	if !ok || j.SystemFrom != 2 || j.RingSeq != 8 || !slices.Equal(j.ProcList, []uint32{1, 2}) || len(j.FailedList) != 0 {
		t.Fatalf("decoded %#v", m)
	}
}

// statsCounter reads a corosync stats key, retrying while IPC is refused
// during sync.
func statsCounter(t *testing.T, h *netns.Host, key string) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := h.StatsCounter(context.Background(), key)
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestInteropCorosyncUDPU puts our udpu transport where node 2 of a real
// corosync 3.1.7 two-node cluster would be. It shows that corosync's
// multicasts reach our ring0_addr:5405 from its address, that corosync
// accepts a JOIN we send (it adds us to its processor set), and that it
// then sends the commit token from its own port 5405, the token path.
func TestInteropCorosyncUDPU(t *testing.T) {
	interop(t, "udpu", false)
}

// TestInteropCorosyncUDPUGSO is TestInteropCorosyncUDPU with every JOIN
// we send doubled and sent by SendBatch, so that each pair leaves as one
// UDP_SEGMENT datagram: corosync only lists us if its socket got them
// back as ordinary datagrams.
func TestInteropCorosyncUDPUGSO(t *testing.T) {
	interop(t, "udpu", true)
}

// TestInteropCorosyncUDP is the same with the udp (multicast) transport:
// corosync sends everything from port 5404, multicasts to the group
// derived from the cluster name, tokens to our ring0_addr:5405.
func TestInteropCorosyncUDP(t *testing.T) {
	interop(t, "udp", false)
}

func interop(t *testing.T, transport string, gso bool) {
	if _, err := exec.LookPath("corosync"); err != nil {
		t.Skip("needs corosync 3.1.7 (Debian package corosync)")
	}
	c := netns.NewCluster(t, 2, netns.Options{})
	h1, h2 := c.Hosts[0], c.Hosts[1]
	members := []Member{{NodeID: 1, Addr: h1.Addr}, {NodeID: 2, Addr: h2.Addr}}
	const cluster = "ringfence"
	var tr Transport
	var self netip.AddrPort // where our own multicast copies come from
	// Where corosync's multicasts and tokens come from.
	mcastFromOK := func(p uint16) bool { return p != DefaultPort } // udpu: ephemeral
	tokenFrom := netip.AddrPortFrom(h1.Addr, DefaultPort)
	if err := h2.Do(func() error {
		switch transport {
		case "udpu":
			u, err := NewUDPU(UDPUConfig{Local: h2.Addr, Members: members})
			if err != nil {
				return err
			}
			tr, self = u, u.SelfSource()
		case "udp":
			u, err := NewUDP(UDPConfig{Local: h2.Addr, Group: McastAddrForCluster(cluster), Members: members})
			if err != nil {
				return err
			}
			tr, self = u, netip.AddrPortFrom(h2.Addr, DefaultPort-1)
			mcastFromOK = func(p uint16) bool { return p == DefaultPort-1 }
			tokenFrom = netip.AddrPortFrom(h1.Addr, DefaultPort-1)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if got := tr.LocalAddr(); got != netip.AddrPortFrom(h2.Addr, DefaultPort) {
		t.Fatalf("bound %s", got)
	}

	conf, err := c.WriteCorosyncConf(netns.CorosyncOptions{Transport: transport, ClusterName: cluster, Token: 1000, Nodes: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	// corosync is started by its real name even when RINGFENCE_DAEMON is
	// set: this test is about the real thing.
	if _, err := h1.Start("corosync", "corosync", "-f", "-c", conf); err != nil {
		t.Fatal(err)
	}

	var joinTxBefore, joinRxBefore uint64
	sawPlainJoin, sawJoinWithUs, sent := false, false, 0
	deadline := time.After(20 * time.Second)
	for {
		var d Datagram
		select {
		case d = <-tr.Recv():
		case <-deadline:
			t.Fatalf("no commit token from corosync (plain join %v, join listing us %v, joins sent %d)", sawPlainJoin, sawJoinWithUs, sent)
		}
		if len(d.Data) < 4 || d.Data[0] != 0x70 || d.Data[1] != 0xc0 || d.Data[2] != 3 {
			t.Fatalf("datagram without totem magic 70 c0 03: % x", d.Data[:min(len(d.Data), 16)])
		}
		if d.FromNode == 2 && d.From == self {
			continue // our own multicast copy
		}
		if d.From.Addr() != h1.Addr || d.FromNode != 1 {
			t.Fatalf("datagram from %s (node %d), want corosync at %s", d.From, d.FromNode, h1.Addr)
		}
		m, err := wire.Decode(d.Data)
		if err != nil {
			t.Fatalf("corosync sent what totem/wire cannot decode: %v", err)
		}
		switch m := m.(type) {
		case *wire.Join, *wire.MergeDetect:
			if !mcastFromOK(d.From.Port()) {
				t.Fatalf("%T from port %d: not where corosync's %s multicasts come from", m, d.From.Port(), transport)
			}
			j, ok := m.(*wire.Join)
			if !ok {
				continue
			}
			proc := []uint32{2}
			if slices.Contains(j.ProcList, 2) {
				// Agree with corosync's view so it reaches consensus.
				sawJoinWithUs, proc = true, []uint32{1, 2}
			} else {
				sawPlainJoin = true
				if sent == 0 {
					joinTxBefore = statsCounter(t, h1, "stats.srp.memb_join_tx")
					joinRxBefore = statsCounter(t, h1, "stats.srp.memb_join_rx")
				}
			}
			if gso {
				j := handJoin(2, 0, proc, nil)
				err = tr.(*UDPU).SendBatch([]Outgoing{{Data: j}, {Data: j}})
			} else {
				err = tr.Multicast(handJoin(2, 0, proc, nil))
			}
			if err != nil {
				t.Fatal(err)
			}
			sent++
		case *wire.CommitToken:
			if d.From != tokenFrom {
				t.Fatalf("commit token from %s, want %s", d.From, tokenFrom)
			}
			if !slices.Equal(m.Addr, []uint32{1, 2}) || m.RingID.Rep != 1 {
				t.Fatalf("commit token for ring %v members %v", m.RingID, m.Addr)
			}
			if !sawJoinWithUs || sent == 0 {
				t.Fatal("commit token before corosync listed us")
			}
			// Corosync counts its own joins too; joins from us make
			// received exceed sent.
			rx := statsCounter(t, h1, "stats.srp.memb_join_rx") - joinRxBefore
			tx := statsCounter(t, h1, "stats.srp.memb_join_tx") - joinTxBefore
			if rx <= tx {
				t.Fatalf("memb_join_rx grew by %d, memb_join_tx by %d: our joins were not counted", rx, tx)
			}
			t.Logf("%s: corosync accepted %d joins from our transport (memb_join_rx +%d, memb_join_tx +%d); commit token for ring %v from %s", transport, sent, rx, tx, m.RingID, d.From)
			if s := tr.Stats(); s.DroppedUnlisted != 0 || s.DroppedTruncated != 0 || s.SendErrors != 0 {
				t.Fatalf("transport stats %+v", s)
			}
			if s := tr.Stats(); gso && (s.TxGSO != uint64(2*sent) || s.GSOFallbacks != 0) {
				t.Fatalf("transport stats %+v: want every JOIN pair sent with GSO (%d datagrams, to both members)", s, 2*sent)
			}
			return
		}
	}
}
