package transport

import (
	"errors"
	"testing"
	"time"
)

// TestUDPUSendBatch checks a token visit sent with SendBatch: every member
// gets the multicasts in order, only the token's target gets the token,
// after them, all from ring0_addr:mcastport (the sender's own copies
// from its own socket, also at ring0_addr); an unknown target is
// refused and counted without stopping the rest; the buffers may be
// reused once SendBatch returns.
func TestUDPUSendBatch(t *testing.T) {
	for _, batch := range []int{1, 16} {
		nodes, members := loopbackRing(t, 3, func(c *UDPUConfig) { c.SendBatch = batch })
		buf := []byte("m0m1tok")
		pkts := []Outgoing{{Data: buf[0:2]}, {To: 99, Data: []byte("lost")}, {Data: buf[2:4]}, {To: 3, Data: buf[4:7]}}
		err := nodes[0].SendBatch(pkts)
		if !errors.Is(err, ErrUnknownMember) {
			t.Fatalf("batch %d: unknown target: err %v", batch, err)
		}
		copy(buf, "XXXXXXX") // the kernel has its copies
		for i, u := range nodes {
			from := nodes[0].LocalAddr()
			if i == 0 {
				from = nodes[0].SelfSource() // its own copies
			}
			want := []string{"m0", "m1"}
			if members[i].NodeID == 3 {
				want = append(want, "tok")
			}
			for _, w := range want {
				select {
				case d := <-u.Recv():
					if string(d.Data) != w || d.From != from || d.FromNode != 1 {
						t.Fatalf("batch %d, member %d: got %q from %s (node %d), want %q from %s", batch, i+1, d.Data, d.From, d.FromNode, w, from)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("batch %d, member %d: %q missing", batch, i+1, w)
				}
			}
			select {
			case d := <-u.Recv():
				t.Fatalf("batch %d, member %d: unexpected %q", batch, i+1, d.Data)
			case <-time.After(20 * time.Millisecond):
			}
		}
		st := nodes[0].Stats()
		if st.SendErrors != 1 || st.TxDatagrams != 7 || st.TxBytes != 3*4+3 {
			t.Fatalf("batch %d: stats %+v, want 1 error, 7 datagrams, 15 bytes", batch, st)
		}
	}
}

// TestUDPUSendBatchClosed checks that a send after Close is refused.
func TestUDPUSendBatchClosed(t *testing.T) {
	nodes, _ := loopbackRing(t, 1, nil)
	nodes[0].Close()
	if err := nodes[0].SendBatch([]Outgoing{{Data: []byte("x")}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
