package exec_test

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/wire"
)

// fakeService is a sync participant that multicasts one exec message
// (fn 0, carrying its node id) per sync, needs retries calls to
// SyncProcess before it is done, and records what happened.
type fakeService struct {
	id      exec.ServiceID
	node    uint32
	retries int

	calls    []string
	left     int
	ring     wire.RingID
	members  []uint32
	heard    []uint32 // senders of fn-0 messages during this sync
	activeAt [][]uint32
}

func (f *fakeService) ID() exec.ServiceID { return f.id }
func (f *fakeService) Name() string       { return fmt.Sprintf("fake%d", f.id) }
func (f *fakeService) ExecCount() int     { return 1 }

func (f *fakeService) Deliver(from uint32, fn uint16, msg []byte, swapped bool) error {
	if len(msg) != 24 {
		return fmt.Errorf("fake: %d bytes", len(msg))
	}
	if got := binary.LittleEndian.Uint32(msg[16:]); got != from {
		return fmt.Errorf("fake: message says node %d, came from %d", got, from)
	}
	f.heard = append(f.heard, from)
	return nil
}

func (f *fakeService) SyncInit(trans, members []uint32, ring wire.RingID) {
	f.calls = append(f.calls, fmt.Sprintf("init trans=%v members=%v", trans, members))
	f.left = f.retries
	f.ring = ring
	f.members = members
	f.heard = nil
}

func (f *fakeService) SyncProcess() (bool, []exec.Message) {
	if f.left > 0 {
		f.left--
		f.calls = append(f.calls, "process-retry")
		return false, nil
	}
	f.calls = append(f.calls, "process")
	b := make([]byte, 24)
	exec.PutHeader(b, exec.Header{ID: exec.MakeID(f.id, 0), Size: 24})
	binary.LittleEndian.PutUint32(b[16:], f.node)
	return true, []exec.Message{exec.ServiceMessage(b)}
}

func (f *fakeService) SyncActivate() {
	f.calls = append(f.calls, "activate")
	h := slices.Clone(f.heard)
	slices.Sort(h)
	f.activeAt = append(f.activeAt, h)
}

func (f *fakeService) SyncAbort() { f.calls = append(f.calls, "abort") }

// plainService has no sync callbacks.
type plainService struct {
	id  exec.ServiceID
	n   int
	got []uint16
}

func (p *plainService) ID() exec.ServiceID { return p.id }
func (p *plainService) Name() string       { return "plain" }
func (p *plainService) ExecCount() int     { return p.n }
func (p *plainService) Deliver(from uint32, fn uint16, msg []byte, swapped bool) error {
	p.got = append(p.got, fn)
	return nil
}
