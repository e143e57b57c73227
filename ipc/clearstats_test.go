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
	f.srv.SetFlowControl(1)
	if st := conn.Stats(); st.Requests == 0 || st.Responses == 0 || st.Dispatched != 3 || st.InvalidRequest != 1 || st.FlowControl != 1 || st.FlowControlCnt != 1 {
		t.Fatalf("before clear: %+v", st)
	}
	if s := f.srv.Stats(); s.Active != 1 || s.Closed != 1 {
		t.Fatalf("server counters before clear: %+v", s)
	}
	f.srv.ClearStats()
	// libqb's clear zeroes the recorded flow-control state too, although
	// flow control stays on.
	if st := conn.Stats(); st != (ipc.ConnStats{}) {
		t.Fatalf("connection counters after clear: %+v", st)
	}
	// Corosync zeroes global.active with the rest (cs_ipcs_clear_stats).
	if s := f.srv.Stats(); s.Closed != 0 || s.Active != 0 {
		t.Fatalf("server counters after clear: %+v", s)
	}
	// The state is recorded again when it next changes.
	f.srv.SetFlowControl(0)
	f.srv.SetFlowControl(2)
	// libqb counts each switch, off included: 1 -> 0 -> 2 is two.
	if st := conn.Stats(); st.FlowControl != 2 || st.FlowControlCnt != 2 {
		t.Fatalf("flow control after switching again: %+v", st)
	}
	f.srv.SetFlowControl(0)
	// Counting goes on from zero.
	if _, err := c.SendRecv(request(0, []byte("hi")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// The server counts a response once it is in the ring, which the
	// client may read first.
	waitFor(t, func() bool { return conn.Stats().Responses >= 1 })
	if st := conn.Stats(); st.Requests != 1 || st.Responses != 1 {
		t.Fatalf("after one more request: %+v", st)
	}
	// A connection open across the clear takes active below zero when it
	// closes; unsigned, as in Corosync, it wraps.
	c.Close()
	waitFor(t, func() bool { return f.srv.Stats().Closed == 1 })
	if s := f.srv.Stats(); s.Active != ^uint64(0) {
		t.Fatalf("active after closing a connection opened before the clear: %d", s.Active)
	}
}
