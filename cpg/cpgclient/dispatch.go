package cpgclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/ipc/client"
)

// Dispatch delivers the events that are waiting, waiting up to timeout
// for the first one (0: do not wait, < 0: wait forever), and returns how
// many callbacks it ran. It is cpg_dispatch with CS_DISPATCH_ALL (or
// CS_DISPATCH_ONE and a wait). A malformed event is skipped and counted;
// the error returned is that of a broken connection.
func (c *Conn) Dispatch(timeout time.Duration) (int, error) {
	c.dispMu.Lock()
	defer c.dispMu.Unlock()
	n := 0
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if c.closed.Load() {
			c.release()
			return n, ErrClosed
		}
		// Wait in slices so that a Close from another goroutine is
		// noticed.
		slice := timeout
		switch {
		case timeout < 0:
			slice = closeCheck
		case timeout > 0:
			slice = min(closeCheck, time.Until(deadline))
			if slice < 0 {
				slice = 0
			}
		}
		msg, err := c.c.ReadEvent(slice)
		if errors.Is(err, client.ErrTimeout) {
			if timeout < 0 || (timeout > 0 && time.Now().Before(deadline)) {
				continue
			}
			return n, nil
		}
		if err != nil {
			return n, ipcError(err)
		}
		if c.handle(msg) {
			n++
		}
		timeout = 0
	}
}

// closeCheck is how often a waiting Dispatch looks for a Close.
const closeCheck = 100 * time.Millisecond

// Run dispatches until ctx ends (returning nil) or the connection breaks.
func (c *Conn) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, err := c.Dispatch(100 * time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// handle runs the callback for one event; it reports whether one ran.
func (c *Conn) handle(msg []byte) bool {
	ev, err := ParseEvent(msg)
	if err != nil {
		c.malformed.Add(1)
		return false
	}
	cb := c.opts.Callbacks
	switch ev.Kind {
	case cpg.EventDeliver:
		if cb.Deliver != nil {
			cb.Deliver(ev.Group, ev.NodeID, ev.PID, ev.Data)
			return true
		}
	case cpg.EventPartialDeliver:
		if data, done := c.assemble(ev); done && cb.Deliver != nil {
			cb.Deliver(ev.Group, ev.NodeID, ev.PID, data)
			return true
		}
	case cpg.EventConfchg:
		ran := false
		if cb.Confchg != nil {
			cb.Confchg(ev.Group, ev.Members, ev.Left, ev.Joined)
			ran = true
		}
		// A sender that left never finishes its message.
		for _, a := range ev.Left {
			delete(c.assemblies, [2]uint32{a.NodeID, a.PID})
		}
		return ran
	case cpg.EventTotemConfchg:
		if cb.TotemConfchg != nil {
			cb.TotemConfchg(ev.Ring, ev.Nodes)
			return true
		}
	}
	return false
}

// assemble collects the fragments of one sender's partial multicast. A
// FIRST fragment drops whatever that sender left unfinished, as libcpg
// does; fragments without a FIRST are dropped.
func (c *Conn) assemble(ev Event) ([]byte, bool) {
	key := [2]uint32{ev.NodeID, ev.PID}
	buf, ok := c.assemblies[key]
	if ev.Type == partialFirst {
		// The announced length is not trusted for the allocation.
		buf, ok = make([]byte, 0, min(int(ev.MsgLen), 4<<20)), true
	}
	if !ok {
		return nil, false
	}
	if len(buf)+len(ev.Data) > int(ev.MsgLen) {
		c.malformed.Add(1)
		delete(c.assemblies, key)
		return nil, false
	}
	buf = append(buf, ev.Data...)
	if ev.Type == partialLast {
		delete(c.assemblies, key)
		return buf, true
	}
	c.assemblies[key] = buf
	return nil, false
}

// String names a connection in logs.
func (c *Conn) String() string { return fmt.Sprintf("cpg connection (pid %d, fd %d)", c.pid, c.c.Fd()) }
