package transport

import (
	"testing"
	"time"
)

// SetUnreachable leaves the named members out of multicasts, plain and
// GSO runs alike, and counts what it left out; unicasts (the token) still
// reach them; nil sends to every member again.
func TestUDPUSkipsUnreachableMembers(t *testing.T) {
	nodes, _ := loopbackRing(t, 3, nil)
	nodes[0].SetUnreachable(func(id uint32) bool { return id == 3 })
	frames := []Outgoing{{Data: []byte("aa")}, {Data: []byte("bb")}, {Data: []byte("cc")}, {Data: []byte("d")}, {To: 3, Data: []byte("tok")}}
	if err := nodes[0].SendBatch(frames); err != nil {
		t.Fatal(err)
	}
	expect := func(u *UDPU, want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case d := <-u.Recv():
				if string(d.Data) != w {
					t.Fatalf("got %q, want %q", d.Data, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%q missing", w)
			}
		}
		select {
		case d := <-u.Recv():
			t.Fatalf("unexpected %q", d.Data)
		case <-time.After(20 * time.Millisecond):
		}
	}
	expect(nodes[0], "aa", "bb", "cc", "d")
	expect(nodes[1], "aa", "bb", "cc", "d")
	expect(nodes[2], "tok")
	if st := nodes[0].Stats(); st.SkippedUnreachable != 4 {
		t.Fatalf("SkippedUnreachable %d, want 4 (one per multicast)", st.SkippedUnreachable)
	}
	nodes[0].SetUnreachable(nil)
	if err := nodes[0].SendBatch(frames[:1]); err != nil {
		t.Fatal(err)
	}
	expect(nodes[0], "aa")
	expect(nodes[1], "aa")
	expect(nodes[2], "aa")
	if st := nodes[0].Stats(); st.SkippedUnreachable != 4 {
		t.Fatalf("SkippedUnreachable %d after clearing, want still 4", st.SkippedUnreachable)
	}
}
