package node

import (
	"bytes"
	"testing"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/pg"
	"github.com/ringfence/ringfence/votequorum"
)

// Our NODEINFO and the device's must share one totempg packet whatever the
// packer already holds: a packet is delivered whole in one ring, two
// packets can straddle a ring change (see qdevicepair.go).
func TestDeviceNodeInfoPairSharesAPacket(t *testing.T) {
	const us = 3
	own := exec.ServiceMessage(votequorum.NodeInfo{NodeID: us, Votes: 1, ExpectedVotes: 5}.Encode())
	dev := exec.ServiceMessage(votequorum.NodeInfo{NodeID: votequorum.QdeviceNodeID, Votes: 1}.Encode())
	batch := []exec.Message{own, dev}
	if pairNeedsFlush(nil, []exec.Message{dev, own}, 0, us) || pairNeedsFlush(nil, batch, 1, us) {
		t.Fatal("not a pair, yet a flush")
	}
	mtu := pg.TotemMTU(1500)
	split := 0
	for fill := 1; fill < mtu; fill++ {
		for _, guard := range []bool{true, false} {
			p, err := pg.NewPacker(mtu)
			if err != nil {
				t.Fatal(err)
			}
			var pkts []pg.Packet
			pkts = mustPack(t, p, pkts, exec.ServiceMessage(bytes.Repeat([]byte{7}, fill)))
			if guard && pairNeedsFlush(p, batch, 0, us) {
				pkts = p.Flush(pkts)
			}
			for _, m := range batch {
				pkts = mustPack(t, p, pkts, m)
			}
			pkts = p.Flush(pkts)
			together := pairInOnePacket(t, pkts, own, dev)
			switch {
			case guard && !together:
				t.Fatalf("fill %d: the pair was split over packets", fill)
			case !guard && !together:
				split++
			}
		}
	}
	// Without the guard some fill levels split the pair: the test can fail.
	if split == 0 {
		t.Fatal("no fill level splits an unguarded pair; the test checks nothing")
	}
	t.Logf("unguarded pair split at %d of %d fill levels", split, mtu-1)
}

func mustPack(t *testing.T, p *pg.Packer, out []pg.Packet, m exec.Message) []pg.Packet {
	t.Helper()
	out, err := p.Add(out, pg.Agreed, []string{m.Group}, m.Iov...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pairInOnePacket reports whether a packet holds a and then b, each whole.
func pairInOnePacket(t *testing.T, pkts []pg.Packet, a, b exec.Message) bool {
	t.Helper()
	hdr, err := pg.AppendGroupHeader(nil, exec.GroupServices)
	if err != nil {
		t.Fatal(err)
	}
	wantA, wantB := append(append([]byte{}, hdr...), a.Bytes()...), append(append([]byte{}, hdr...), b.Bytes()...)
	for _, pkt := range pkts {
		_, pieces, err := pg.Pieces(pkt.Payload, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(pieces); i++ {
			if bytes.Equal(pieces[i], wantA) && bytes.Equal(pieces[i+1], wantB) {
				return true
			}
		}
	}
	return false
}
