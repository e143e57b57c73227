package transport

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestUDPUSendStallBounded is a node whose peers cannot be reached: one
// host on the bridge, with nodes 2 and 3 in its nodelist at addresses
// nobody answers ARP for, as a node whose link is down sees its peers.
// Every datagram to them waits in the kernel's neighbour queue, charged
// to the sending socket, until resolution fails 3 s later; with a small
// send buffer the first few visits fill it. Each send must still return
// within the stall bound (plus slack for a loaded machine), the dropped
// datagrams must be counted, and every copy the node sends itself —
// its multicasts and, as in a one-node ring, its token — must arrive,
// in order, since they do not go through the clogged socket.
func TestUDPUSendStallBounded(t *testing.T) {
	c := netns.NewCluster(t, 1, netns.Options{})
	h := c.Hosts[0]
	members := []Member{{NodeID: 1, Addr: h.Addr}, {NodeID: 2, Addr: netns.HostAddr(2)}, {NodeID: 3, Addr: netns.HostAddr(3)}}
	const stall = 50 * time.Millisecond
	var u *UDPU
	if err := h.Do(func() error {
		var err error
		u, err = NewUDPU(UDPUConfig{Local: h.Addr, Members: members, SendStall: stall, Log: quietLog})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	// The kernel's smallest send buffer: filled by a few visits.
	if err := u.token.conn.SetWriteBuffer(1); err != nil {
		t.Fatal(err)
	}

	const visits, perVisit = 100, 8
	var want [][]byte
	got := make(chan [][]byte, 1)
	go func() {
		var rx [][]byte
		for len(rx) < visits*(perVisit+1) {
			select {
			case d := <-u.Recv():
				if d.FromNode != 1 {
					continue
				}
				rx = append(rx, d.Data)
			case <-time.After(10 * time.Second):
				got <- rx
				return
			}
		}
		got <- rx
	}()
	var slowest time.Duration
	began := time.Now()
	sent := make(chan int, visits)
	go func() {
		defer close(sent)
		for v := range visits {
			var pkts []Outgoing
			for i := range perVisit {
				f := frame(byte(v*perVisit+i), 1400)
				pkts = append(pkts, Outgoing{Data: f})
				want = append(want, f)
			}
			tok := []byte(fmt.Sprintf("token %d", v))
			pkts = append(pkts, Outgoing{To: 1, Data: tok}) // to itself: a one-node ring
			want = append(want, tok)
			start := time.Now()
			_ = u.SendBatch(pkts) // ErrSendBufferFull once it drops
			slowest = max(slowest, time.Since(start))
			sent <- v
		}
	}()
	// Without the bound each send waited for room until resolution
	// failed, about 3 s: the visits would take minutes.
	deadline := time.After(30 * time.Second)
	for done := 0; done < visits; {
		select {
		case _, ok := <-sent:
			if !ok {
				done = visits
				break
			}
			done++
		case <-deadline:
			t.Fatalf("%d of %d visits sent after %v: the sends wait for the clogged buffer", done, visits, time.Since(began).Round(time.Millisecond))
		}
	}
	total := time.Since(began)
	st := u.Stats()
	t.Logf("%d visits in %v, slowest send %v; stats %+v", visits, total.Round(time.Millisecond), slowest.Round(time.Millisecond), st)
	if slowest > stall+time.Second {
		t.Errorf("a send took %v with a stall bound of %v", slowest, stall)
	}
	if st.DroppedSendFull == 0 {
		t.Errorf("nothing counted as dropped for a full send buffer: %+v", st)
	}
	rx := <-got
	if len(rx) != len(want) {
		t.Fatalf("the node received %d of its own %d datagrams", len(rx), len(want))
	}
	for i := range want {
		if !bytes.Equal(rx[i], want[i]) {
			t.Fatalf("own datagram %d: got %d bytes %q..., want %d bytes %q...", i, len(rx[i]), rx[i][:min(len(rx[i]), 8)], len(want[i]), want[i][:min(len(want[i]), 8)])
		}
	}
}
