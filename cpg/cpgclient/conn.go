package cpgclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
	"github.com/ringfence/ringfence/totem/wire"
)

// ErrTryAgain is CS_ERR_TRY_AGAIN: the daemon's flow control is on (or it
// is synchronising); retry the call later.
var ErrTryAgain error = ipc.CsErrTryAgain

// InitialTotemConf is CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF: ask for a
// TotemConfchg callback right after the join, describing the current ring.
const InitialTotemConf = 0x01

// Callbacks are the model-v1 callbacks; nil ones are skipped.
type Callbacks struct {
	// Deliver receives one message of a group the connection joined.
	// msg is valid only during the call.
	Deliver func(group string, nodeID, pid uint32, msg []byte)
	// Confchg reports processes joining or leaving a group, with the
	// membership after the change.
	Confchg func(group string, members, left, joined []Address)
	// TotemConfchg reports a new totem ring and its nodes.
	TotemConfchg func(ring wire.RingID, nodes []uint32)
}

// Options for Dial.
type Options struct {
	Callbacks
	// Flags go with every join: InitialTotemConf or 0.
	Flags uint32
	// ServicePrefix is put in front of the "cpg" service name (a
	// ringfenced started with an IPC prefix, as tests do).
	ServicePrefix string
	// PID is the process id announced in joins (default os.Getpid()).
	// Two connections of one process need different ones to join the
	// same group, since the daemon tells processes apart by node and pid.
	PID uint32
	// Timeout bounds each request's wait for its response (default 30 s;
	// libcpg waits forever).
	Timeout time.Duration
}

// Conn is one cpg connection (one cpg_handle_t).
type Conn struct {
	c    *client.Client
	opts Options
	pid  uint32

	reqMu sync.Mutex // one request on the ring at a time

	dispMu     sync.Mutex // one dispatcher at a time
	assemblies map[[2]uint32][]byte

	// Malformed counts events that failed to decode (and were skipped).
	malformed atomic.Uint64

	// closed is set by Close; the rings are unmapped (once) by Close or,
	// when a dispatcher is running, by that dispatcher, never under a
	// goroutine still reading them.
	closed atomic.Bool
	shut   sync.Once
}

// ErrClosed is returned by calls on a closed connection.
var ErrClosed = errors.New("cpgclient: connection closed")

// maxMcast is the largest message sent as one MCAST; larger ones go as
// partial multicasts (libcpg: IPC_REQUEST_SIZE - 1024).
func (c *Conn) maxMcast() int { return c.c.MaxMsgSize() - 1024 }

// Dial connects to the local daemon's cpg service (cpg_model_initialize).
func Dial(o Options) (*Conn, error) {
	if o.Flags&^InitialTotemConf != 0 {
		return nil, ipc.CsErrInvalidParm
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	pid := o.PID
	if pid == 0 {
		pid = uint32(os.Getpid())
	}
	ic, err := client.Dial(o.ServicePrefix + cpgipc.ServiceName)
	if err != nil {
		return nil, err
	}
	return &Conn{c: ic, opts: o, pid: pid, assemblies: map[[2]uint32][]byte{}}, nil
}

// Fd is the descriptor to poll for POLLIN: an event is waiting.
func (c *Conn) Fd() int { return c.c.Fd() }

// PID is the process id this connection announces.
func (c *Conn) PID() uint32 { return c.pid }

// Malformed is the number of events that could not be decoded.
func (c *Conn) Malformed() uint64 { return c.malformed.Load() }

// call sends a request and checks its response.
func (c *Conn) call(req []byte, resID int32, size int) ([]byte, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	resp, err := c.c.SendRecv(req, c.opts.Timeout)
	if err != nil {
		return nil, ipcError(err)
	}
	if err := checkResponse(resp, resID, size); err != nil {
		return nil, err
	}
	return resp, nil
}

// ipcError maps the IPC client's errors onto cs_error_t, as
// qb_to_cs_error does for libcpg.
func ipcError(err error) error {
	switch {
	case errors.Is(err, syscall.EAGAIN):
		return ipc.CsErrTryAgain
	case errors.Is(err, client.ErrTimeout):
		return fmt.Errorf("%w (%v)", ipc.CsError(5), err) // CS_ERR_TIMEOUT
	case errors.Is(err, client.ErrDisconnected):
		return fmt.Errorf("%w (%v)", ipc.CsErrLibrary, err)
	}
	return err
}

// Join joins group (cpg_join). The join takes effect when the Confchg
// naming this process arrives.
func (c *Conn) Join(group string) error {
	if err := checkName(group); err != nil {
		return err
	}
	_, err := c.call(joinRequest(group, c.pid, c.opts.Flags), cpgipc.ResJoin, 24)
	return err
}

// Leave leaves group (cpg_leave); the connection keeps receiving the
// group's traffic until the Confchg that confirms it.
func (c *Conn) Leave(group string) error {
	if err := checkName(group); err != nil {
		return err
	}
	_, err := c.call(leaveRequest(group, c.pid), cpgipc.ResLeave, 24)
	return err
}

// Mcast sends the concatenation of iov to the joined group in agreed
// order (cpg_mcast_joined). It does not wait: the message comes back to
// every member, this one included, as a Deliver callback. ErrTryAgain
// means the daemon's flow control is on.
func (c *Conn) Mcast(iov ...[]byte) error { return c.McastGuarantee(Agreed, iov...) }

// McastGuarantee is Mcast with an explicit cpg_guarantee_t.
func (c *Conn) McastGuarantee(g Guarantee, iov ...[]byte) error {
	size := 0
	for _, p := range iov {
		size += len(p)
	}
	if size > c.maxMcast() {
		return c.sendFragments(g, size, iov)
	}
	req := mcastRequest(g, size, iov)
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	// libcpg lets multicasts through until the server reaches level 2.
	c.c.SetFlowControlLimit(2)
	err := c.c.Send(req)
	c.c.SetFlowControlLimit(1)
	if err != nil {
		return ipcError(err)
	}
	return nil
}

// sendFragments splits a large message into PARTIAL_MCAST requests, each
// answered by the daemon; a TRY_AGAIN is retried after 10 ms, up to 100
// times, as libcpg does.
func (c *Conn) sendFragments(g Guarantee, size int, iov [][]byte) error {
	msg := make([]byte, 0, size)
	for _, p := range iov {
		msg = append(msg, p...)
	}
	max := c.maxMcast()
	for sent := 0; sent < size; {
		n := min(max, size-sent)
		typ := uint32(partialContinued)
		switch {
		case sent == 0:
			typ = partialFirst
		case sent+n == size:
			typ = partialLast
		}
		req := partialRequest(g, size, typ, msg[sent:sent+n])
		for retry := 0; ; retry++ {
			_, err := c.call(req, cpgipc.ResPartialMcast, 24)
			if err == nil {
				break
			}
			if !errors.Is(err, ipc.CsErrTryAgain) || retry >= 100 {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
		sent += n
	}
	return nil
}

// Membership lists the processes in group as this node sees them
// (cpg_membership_get).
func (c *Conn) Membership(group string) ([]Address, error) {
	if err := checkName(group); err != nil {
		return nil, err
	}
	req := newRequest(cpgipc.ReqMembership, 152)
	putName(req, reqGroup, group)
	resp, err := c.call(req, cpgipc.ResMembership, 32)
	if err != nil {
		return nil, err
	}
	n := int(le32(resp, 24))
	if n > (len(resp)-32)/addrSize {
		return nil, fmt.Errorf("%w: %d members in a %d-byte membership response", ErrMalformed, n, len(resp))
	}
	return readAddrs(resp, 32, n), nil
}

// LocalNodeID is this node's id (cpg_local_get).
func (c *Conn) LocalNodeID() (uint32, error) {
	resp, err := c.call(newRequest(cpgipc.ReqLocalGet, 16), cpgipc.ResLocalGet, 28)
	if err != nil {
		return 0, err
	}
	return le32(resp, 24), nil
}

// IterItem is one entry of an iteration (cpg_iteration_description_t).
type IterItem struct {
	Group       string
	NodeID, PID uint32
}

// Iterator walks the daemon's process list (cpg_iteration_*).
type Iterator struct {
	c      *Conn
	handle uint64
	done   bool
}

// Iteration starts an iteration of kind IterNameOnly, IterOneGroup (of
// group) or IterAll. Close it when done.
func (c *Conn) Iteration(kind uint32, group string) (*Iterator, error) {
	if kind < IterNameOnly || kind > IterAll {
		return nil, ipc.CsErrInvalidParm
	}
	if err := checkName(group); err != nil {
		return nil, err
	}
	req := newRequest(cpgipc.ReqIterInit, 160)
	if kind == IterOneGroup {
		putName(req, reqGroup, group)
	}
	put32(req, reqIterType, kind)
	resp, err := c.call(req, cpgipc.ResIterInit, 32)
	if err != nil {
		return nil, err
	}
	return &Iterator{c: c, handle: leU64(resp, 24)}, nil
}

func leU64(b []byte, off int) uint64 { return uint64(le32(b, off)) | uint64(le32(b, off+4))<<32 }

func handleRequest(id int32, h uint64) []byte {
	b := newRequest(id, 24)
	put32(b, 16, uint32(h))
	put32(b, 20, uint32(h>>32))
	return b
}

// Next returns the next item, or io.EOF after the last one.
func (it *Iterator) Next() (IterItem, error) {
	if it.done {
		return IterItem{}, io.EOF
	}
	resp, err := it.c.call(handleRequest(cpgipc.ReqIterNext, it.handle), cpgipc.ResIterNext, 24+nameSize+8)
	if errors.Is(err, ipc.CsErrNoSections) {
		it.done = true
		return IterItem{}, io.EOF
	}
	if err != nil {
		return IterItem{}, err
	}
	g, err := readName(resp, 24)
	if err != nil {
		return IterItem{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return IterItem{Group: g, NodeID: le32(resp, 24+nameSize), PID: le32(resp, 24+nameSize+4)}, nil
}

// Close finalizes the iteration on the daemon.
func (it *Iterator) Close() error {
	_, err := it.c.call(handleRequest(cpgipc.ReqIterFinalize, it.handle), cpgipc.ResIterFinalize, 24)
	return err
}

// Iterate runs a whole iteration and returns its items.
func (c *Conn) Iterate(kind uint32, group string) ([]IterItem, error) {
	it, err := c.Iteration(kind, group)
	if err != nil {
		return nil, err
	}
	var out []IterItem
	for {
		item, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			it.Close()
			return out, err
		}
		out = append(out, item)
	}
	return out, it.Close()
}

// Finalize tells the daemon the handle is going away, then disconnects
// (cpg_finalize). The daemon removes the process from its groups, which
// the other members see as a Confchg with reason PROCDOWN.
func (c *Conn) Finalize() error {
	_, err := c.call(newRequest(cpgipc.ReqFinalize, 16), cpgipc.ResFinalize, 24)
	cerr := c.Close()
	if err != nil {
		return err
	}
	return cerr
}

// Close disconnects without FINALIZE (like a process that exits). It may
// be called from a callback; a running Dispatch then returns ErrClosed.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.dispMu.TryLock() {
		c.release()
		c.dispMu.Unlock()
	}
	return nil
}

// release unmaps the rings; the caller holds dispMu.
func (c *Conn) release() {
	c.shut.Do(func() {
		c.reqMu.Lock()
		defer c.reqMu.Unlock()
		c.c.Close()
	})
}
