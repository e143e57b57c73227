package ipc

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Conn is one client connection of one service.
type Conn struct {
	srv  *Server
	svc  *Service
	sock *net.UnixConn
	cred Cred
	id   uint64
	dir  string // the per-connection directory
	base string // dir + "/qb": prefix of the ring names
	log  *logrus.Entry

	req, resp, ev *Ring      // shared-memory connection type
	dg            *dgramConn // socket connection type

	// Private is free for the service: set it in Connected, use it in
	// Handle; only the owner goroutine touches it.
	Private any
	greeted bool // Connected delivered and Disconnected not yet (owner only)

	closed    atomic.Bool
	closing   chan struct{}
	closeOnce sync.Once

	respMu sync.Mutex

	evMu      sync.Mutex
	evQueue   [][]byte // events waiting for room in the event ring
	evNotify  int      // doorbell bytes owed to the client, for the writer goroutine
	evLater   int      // doorbell bytes SendEventLater left for Notify
	evWriting bool     // writeLoop is writing owed bytes (holds the socket's write lock)
	evKick    chan struct{}
	released  bool // rings unmapped (guarded by respMu and evMu together)
	releaseMu sync.Mutex

	maxMsg uint32 // negotiated buffer size: the largest message either side may send
	ctr    connCounters
	fc     atomic.Int32
}

func (s *Server) newConn(sock *net.UnixConn, svc *Service, cred Cred, maxMsg uint32) (c *Conn, err error) {
	fd := -1
	if rc, err := sock.SyscallConn(); err == nil {
		rc.Control(func(f uintptr) { fd = int(f) })
	}
	dir, err := s.mkConnDir(cred, fd)
	if err != nil {
		return nil, err
	}
	c = &Conn{srv: s, svc: svc, sock: sock, cred: cred, id: s.nextID.Add(0x40), dir: dir, base: dir + "/qb",
		closing: make(chan struct{}), evKick: make(chan struct{}, 1), maxMsg: maxMsg}
	c.log = s.log.WithFields(logrus.Fields{"service": svc.Name, "pid": cred.PID})
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	if s.cfg.SocketType {
		if c.dg, err = newDgramConn(c); err != nil {
			return nil, err
		}
		return c, nil
	}
	if c.req, err = CreateRing(c.base+"-request-"+svc.Name, maxMsg, cred.UID, cred.GID); err != nil {
		return nil, err
	}
	if c.resp, err = CreateRing(c.base+"-response-"+svc.Name, maxMsg, cred.UID, cred.GID); err != nil {
		return nil, err
	}
	if c.ev, err = CreateRing(c.base+"-event-"+svc.Name, maxMsg, cred.UID, cred.GID); err != nil {
		return nil, err
	}
	return c, nil
}

// Service returns the service this connection belongs to.
func (c *Conn) Service() *Service { return c.svc }

// Cred returns the client's pid, uid and gid (SO_PEERCRED at connect time).
func (c *Conn) Cred() Cred { return c.cred }

// ID is the opaque connection value sent in the handshake; Corosync shows
// the same thing (a pointer) in its stats key names.
func (c *Conn) ID() uint64 { return c.id }

// Description is libqb's connection description: the directory plus "/qb".
func (c *Conn) Description() string { return c.base }

// ProcName is the client's command name from /proc (stats "procname").
func (c *Conn) ProcName() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.cred.PID))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Stats returns a snapshot of the connection's counters.
func (c *Conn) Stats() ConnStats {
	return ConnStats{
		Requests: c.ctr.requests.Load(), Responses: c.ctr.responses.Load(),
		Dispatched: c.ctr.dispatched.Load(), SendRetries: c.ctr.sendRetries.Load(),
		RecvRetries: c.ctr.recvRetries.Load(), InvalidRequest: c.ctr.invalid.Load(),
		Overload: c.ctr.overload.Load(), FlowControl: c.ctr.fcState.Load(),
		FlowControlCnt: c.ctr.fcCount.Load(), Queued: c.ctr.queued.Load(),
	}
}

// CountOverload records a request refused with CS_ERR_TRY_AGAIN.
func (c *Conn) CountOverload() { c.ctr.overload.Add(1) }

func (c *Conn) isClosed() bool { return c.closed.Load() }

// Respond writes one response message. Safe from any goroutine, but
// responses must follow the order of the requests they answer.
func (c *Conn) Respond(msg []byte) error {
	c.respMu.Lock()
	defer c.respMu.Unlock()
	if c.released || c.isClosed() {
		return syscall.ENOTCONN
	}
	var err error
	if c.dg != nil {
		err = c.dg.respond(msg)
	} else {
		err = guard(func() error { return c.resp.Write(msg) })
	}
	if err != nil {
		c.ctr.sendRetries.Add(1)
		c.log.WithError(err).Debug("response not sent")
		if err != ErrRingFull {
			c.Close()
		}
		return err
	}
	c.ctr.responses.Add(1)
	return nil
}

// SendEvent writes one event (dispatch) message and rings the client's
// doorbell. Safe from any goroutine. When the event ring is full the event
// is queued (up to Config.MaxQueuedEvents) and sent as the client drains.
func (c *Conn) SendEvent(msg []byte) error { return c.sendEvent(true, [][]byte{msg}) }

// SendEventLater is SendEvent without the doorbell: the byte is owed until
// Notify. A daemon that delivers a burst of events to one client rings
// once for the burst (one write of n bytes instead of n writes, and one
// wake-up of the client); Notify must follow before the owner waits for
// new input. The message is the concatenation of parts, written straight
// into the ring.
func (c *Conn) SendEventLater(parts ...[]byte) error { return c.sendEvent(false, parts) }

// Notify writes the doorbell bytes SendEventLater left owed.
func (c *Conn) Notify() {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	owed := c.evLater
	c.evLater = 0
	if owed == 0 || c.released || c.isClosed() {
		return
	}
	if c.evNotify == 0 && !c.evWriting {
		owed -= c.ringDoorbell(owed)
	}
	if owed > 0 {
		c.evNotify += owed
		c.kick()
	}
}

func (c *Conn) sendEvent(now bool, parts [][]byte) error {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.released || c.isClosed() {
		return syscall.ENOTCONN
	}
	if len(c.evQueue) == 0 && c.dg == nil {
		err := guard(func() error { return c.ev.Write(parts...) })
		if err == nil {
			c.ctr.dispatched.Add(1)
			if !now {
				c.evLater++
				return nil
			}
			// Ring the doorbell now, as libqb does, so that an event
			// sent before a response is visible before it; only a full
			// socket defers the byte to the writer goroutine.
			if c.evNotify == 0 && !c.evWriting && c.ringDoorbell(1) == 1 {
				return nil
			}
			c.evNotify++
			c.kick()
			return nil
		}
		if err != ErrRingFull {
			c.Close()
			return err
		}
		c.ctr.sendRetries.Add(1)
	}
	if len(c.evQueue) >= c.srv.cfg.MaxQueuedEvents {
		c.ctr.overload.Add(1)
		return syscall.ENOBUFS
	}
	c.evQueue = append(c.evQueue, concat(parts))
	c.ctr.queued.Store(uint32(len(c.evQueue)))
	c.kick()
	return nil
}

// concat copies parts into one new buffer.
func concat(parts [][]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func (c *Conn) kick() {
	select {
	case c.evKick <- struct{}{}:
	default:
	}
}

// flushEvents moves queued events into the ring while there is room and
// returns how many doorbell bytes are owed and whether events still wait.
func (c *Conn) flushEvents() (owed int, waiting bool) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.released {
		return 0, false
	}
	for len(c.evQueue) > 0 {
		msg := c.evQueue[0]
		var err error
		if c.dg != nil {
			err = c.dg.event(msg)
		} else {
			err = guard(func() error { return c.ev.Write(msg) })
		}
		if err == ErrRingFull {
			break
		}
		if err != nil {
			c.evQueue = nil
			go c.Close()
			break
		}
		c.evQueue[0] = nil
		c.evQueue = c.evQueue[1:]
		c.ctr.dispatched.Add(1)
		if c.dg == nil {
			// Shared memory needs a doorbell byte per event; with the
			// socket type the datagram itself wakes the client, and a
			// stray byte on the setup socket would read as a hang-up.
			c.evNotify++
		}
	}
	c.ctr.queued.Store(uint32(len(c.evQueue)))
	owed, c.evNotify = c.evNotify, 0
	// While the writer owes bytes it may sit in a blocking write holding
	// the socket's write lock; SendEvent must then not write directly.
	c.evWriting = owed > 0
	return owed, len(c.evQueue) > 0
}

// writeLoop sends the event doorbell bytes (one 0x00 per event). Writing
// from its own goroutine means a client that stops reading its socket
// never blocks the owner; the bytes go out when the socket drains.
func (c *Conn) writeLoop() {
	defer c.srv.wg.Done()
	zeros := make([]byte, 256)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-c.evKick:
		case <-retry.C:
		}
		owed, waiting := c.flushEvents()
		for owed > 0 {
			for owed > 0 {
				n := min(owed, len(zeros))
				w, err := c.sock.Write(zeros[:n])
				if err != nil {
					c.Close()
					return
				}
				owed -= w
			}
			// Pick up what was owed meanwhile; a zero result also
			// clears evWriting.
			owed, waiting = c.flushEvents()
		}
		if waiting {
			retry.Reset(10 * time.Millisecond)
		}
	}
}

// readLoop waits for doorbell bytes and moves requests from the request
// ring to the owner. It is the only goroutine that reads the request ring,
// and the only one that reports the disconnect.
func (c *Conn) readLoop() {
	defer c.srv.wg.Done()
	defer c.finish()
	buf := make([]byte, 64)
	for {
		n, err := c.sock.Read(buf)
		if n == 0 || err != nil {
			return
		}
		for c.fc.Load() != 0 && !c.isClosed() {
			select {
			case <-c.srv.fcWait():
			case <-c.closing:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		got := 0
		for c.req.TryTake() {
			var msg []byte
			if err := guard(func() (e error) { msg, e = c.req.Read(-1); return }); err != nil {
				c.ctr.invalid.Add(1)
				c.log.WithError(err).Warn("corrupt request ring; closing connection")
				return
			}
			got++
			if len(msg) == 0 {
				return // libqb's zero-length chunk: the client is leaving
			}
			if h, err := ParseRequestHeader(msg); err == nil && h.ID == MsgDisconnect {
				return
			}
			if !c.srv.deliver(Delivery{Kind: DeliverRequest, Conn: c, Msg: msg}) {
				return
			}
		}
		if got == 0 {
			c.ctr.recvRetries.Add(1)
		}
	}
}

// finish runs when the read side ends for whatever reason.
func (c *Conn) finish() {
	c.Close()
	c.srv.forget(c)
	if !c.srv.deliver(Delivery{Kind: DeliverDisconnected, Conn: c}) {
		c.release() // nobody dispatches any more
	}
}

// Close drops the connection; the service's Disconnected still runs (from
// Dispatch) before the rings go away.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.closing)
		if c.sock != nil {
			c.sock.Close()
		}
		if c.dg != nil {
			c.dg.req.Close() // wakes readLoopDgram
		}
	})
}

func (c *Conn) setFlowControl(level int32) {
	// libqb counts every change of the word, off included.
	if c.fc.Swap(level) != level {
		c.ctr.fcState.Store(level)
		c.ctr.fcCount.Add(1)
	}
	c.respMu.Lock()
	if !c.released && c.req != nil {
		guard(func() error { c.req.SetFlowControl(level); return nil })
	}
	if !c.released && c.dg != nil {
		c.dg.setFlowControl(level)
	}
	c.respMu.Unlock()
}

// release unmaps and removes the six files and the directory. Idempotent.
func (c *Conn) release() {
	c.releaseMu.Lock()
	defer c.releaseMu.Unlock()
	c.respMu.Lock()
	c.evMu.Lock()
	defer c.respMu.Unlock()
	defer c.evMu.Unlock()
	if c.released {
		return
	}
	c.released = true
	for _, r := range []*Ring{c.req, c.resp, c.ev} {
		if r != nil {
			r.Close(true)
		}
	}
	if c.dg != nil {
		c.dg.close()
	}
	c.evQueue = nil
	if c.dir != "" {
		os.Remove(c.dir)
	}
}

// MaxPayload is the negotiated message size limit of this connection.
func (c *Conn) MaxPayload() int { return int(c.maxMsg) }

// RespondTryAgain answers a request the daemon cannot take now (e.g. the
// totem queue is full) with the bare 24-byte CS_ERR_TRY_AGAIN header
// Corosync sends, and counts it as an overload.
func (c *Conn) RespondTryAgain() error {
	c.ctr.overload.Add(1)
	return c.Respond(NewResponse(0, ResponseHeaderSize, CsErrTryAgain))
}

// zeroBytes are doorbell bytes: all zero, only their count matters.
var zeroBytes [256]byte

// ringDoorbell writes up to n event doorbell bytes without blocking and
// returns how many went out. Only their count matters, so they may
// interleave with the writer goroutine's catch-up writes.
func (c *Conn) ringDoorbell(n int) int {
	rc, err := c.sock.SyscallConn()
	if err != nil {
		return 0
	}
	sent := 0
	rc.Write(func(fd uintptr) bool {
		for sent < n {
			w, err := unix.Write(int(fd), zeroBytes[:min(n-sent, len(zeroBytes))])
			if err != nil || w <= 0 {
				break
			}
			sent += w
		}
		return true
	})
	return sent
}
