package ipc_test

import (
	"testing"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

func TestClearStats(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	old, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	waitFor(t, func() bool { return f.srv.Stats().Closed == 1 })
	c, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SendRecv(request(7, nil), 5*time.Second); err != nil { // invalid
		t.Fatal(err)
	}
	ev := make([]byte, 4)
	ev[0] = 3
	if _, err := c.SendRecv(request(1, ev), 5*time.Second); err != nil { // 3 events
		t.Fatal(err)
	}
	f.echo.mu.Lock()
	conn := f.echo.lastConn
	f.echo.mu.Unlock()
	if st := conn.Stats(); st.Requests == 0 || st.Responses == 0 || st.Dispatched != 3 || st.InvalidRequest != 1 {
		t.Fatalf("before clear: %+v", st)
	}
	f.srv.ClearStats()
	if st := conn.Stats(); st != (ipc.ConnStats{}) {
		t.Fatalf("connection counters after clear: %+v", st)
	}
	if s := f.srv.Stats(); s.Closed != 0 || s.Active != 1 {
		t.Fatalf("server counters after clear: %+v", s)
	}
	// Counting goes on from zero.
	if _, err := c.SendRecv(request(0, []byte("hi")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := conn.Stats(); st.Requests != 1 || st.Responses != 1 {
		t.Fatalf("after one more request: %+v", st)
	}
}
