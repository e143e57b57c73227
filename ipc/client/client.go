package client

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringfence/ringfence/ipc"
)

// DefaultMaxMsgSize is what Corosync's libraries ask for (IPC_REQUEST_SIZE).
const DefaultMaxMsgSize = 1 << 20

// Errors callers may want to tell apart.
var (
	// ErrTryAgain: the server is not ready (handshake EAGAIN) or has flow
	// control on; retry later.
	ErrTryAgain = syscall.EAGAIN
	// ErrDisconnected: the server closed the connection.
	ErrDisconnected = errors.New("ipc client: disconnected")
	// ErrTimeout: no answer in time.
	ErrTimeout = errors.New("ipc client: timeout")
)

// livenessSlice is how long one semaphore wait lasts before the socket is
// checked for a hang-up (libqb uses 2 s slices for the same purpose).
const livenessSlice = 500 * time.Millisecond

// Client is one connection to one service.
type Client struct {
	fd            int
	service       string
	maxMsg        uint32
	conn          uint64
	serverPID     int
	req, resp, ev *ipc.Ring

	mu       sync.Mutex // one request/response exchange at a time
	evMu     sync.Mutex
	closeMu  sync.Mutex
	closed   bool
	fcEnable int32
	owed     int // doorbell bytes of taken events still in the socket (evMu)
}

// Options for Dial.
type Options struct {
	MaxMsgSize       uint32        // default 1 MiB
	HandshakeTimeout time.Duration // default 5 s
}

// Dial connects to service ("cmap", "cpg", …) with default options.
func Dial(service string) (*Client, error) { return DialOptions(service, Options{}) }

// DialOptions connects with explicit options.
func DialOptions(service string, o Options) (*Client, error) {
	if o.MaxMsgSize == 0 {
		o.MaxMsgSize = DefaultMaxMsgSize
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	fd, err := ipc.DialFD(service)
	if err != nil {
		return nil, fmt.Errorf("ipc client: connect %s: %w", service, err)
	}
	c := &Client{fd: fd, service: service, fcEnable: 1}
	if err := c.handshake(o); err != nil {
		unix.Close(fd)
		c.closeRings(false)
		return nil, err
	}
	return c, nil
}

func (c *Client) handshake(o Options) error {
	unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	if err := writeAll(c.fd, ipc.ConnRequest{MaxMsgSize: o.MaxMsgSize}.Encode()); err != nil {
		return fmt.Errorf("ipc client: send connection request: %w", err)
	}
	buf := make([]byte, ipc.ConnResponseSize)
	if err := readFull(c.fd, buf, o.HandshakeTimeout); err != nil {
		return fmt.Errorf("ipc client: read connection response: %w", err)
	}
	unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 0)
	r, err := ipc.ParseConnResponse(buf)
	if err != nil {
		return err
	}
	if r.Err != 0 {
		return fmt.Errorf("ipc client: %s refused the connection: %w", c.service, r.Err)
	}
	if r.ConnType != ipc.ConnTypeSHM {
		return fmt.Errorf("ipc client: server offers connection type %d; only shared memory (1) is supported", r.ConnType)
	}
	if uc, err := unix.GetsockoptUcred(c.fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
		c.serverPID = int(uc.Pid)
	}
	c.maxMsg, c.conn = r.MaxMsgSize, r.Connection
	if c.req, err = ipc.OpenRing(r.Request); err != nil {
		return err
	}
	if c.resp, err = ipc.OpenRing(r.Response); err != nil {
		return err
	}
	if c.ev, err = ipc.OpenRing(r.Event); err != nil {
		return err
	}
	return nil
}

// Fd is the setup socket: poll it for POLLIN to learn that an event waits.
func (c *Client) Fd() int { return c.fd }

// MaxMsgSize is the negotiated buffer size.
func (c *Client) MaxMsgSize() int { return int(c.maxMsg) }

// ServerPID is the pid of the server process (SO_PEERCRED).
func (c *Client) ServerPID() int { return c.serverPID }

// SetFlowControlLimit sets the highest flow-control level that still makes
// sends fail with ErrTryAgain (1 normally, 2 for CPG multicasts).
func (c *Client) SetFlowControlLimit(level int32) { c.fcEnable = level }

// Send writes one request and rings the doorbell, without waiting.
func (c *Client) Send(msg []byte) error {
	if len(msg) < ipc.RequestHeaderSize {
		// A zero-length chunk would tell the server we are leaving.
		return syscall.EINVAL
	}
	if len(msg) > int(c.maxMsg) {
		return syscall.EMSGSIZE
	}
	if c.req.RefCount() != 2 {
		return ErrDisconnected
	}
	if fc := c.req.FlowControl(); fc > 0 && fc <= c.fcEnable {
		return ErrTryAgain
	}
	if err := c.req.Write(msg); err != nil {
		return err
	}
	// The byte's value is irrelevant; libqb happens to send the low byte
	// of the message.
	if err := writeAll(c.fd, msg[:1]); err != nil {
		return ErrDisconnected
	}
	return nil
}

// Recv waits for the next response (timeout < 0: forever).
func (c *Client) Recv(timeout time.Duration) ([]byte, error) {
	if !c.waitRing(c.resp, timeout) {
		if !c.alive() {
			return nil, ErrDisconnected
		}
		return nil, ErrTimeout
	}
	return c.resp.Read(int(c.maxMsg))
}

// SendRecv sends a request and returns its response.
func (c *Client) SendRecv(msg []byte, timeout time.Duration) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Send(msg); err != nil {
		return nil, err
	}
	return c.Recv(timeout)
}

// waitRing takes one unit of the ring's semaphore, checking in between
// that the server is still there.
func (c *Client) waitRing(r *ipc.Ring, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		slice := livenessSlice
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return r.TryTake()
			}
			slice = min(slice, left)
		}
		if r.Take(slice) {
			return true
		}
		if !c.alive() {
			return r.TryTake()
		}
	}
}

// alive reports whether the setup socket is still connected.
func (c *Client) alive() bool {
	pfd := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(pfd, 0)
	if err != nil {
		return err == unix.EINTR
	}
	return n == 0 || pfd[0].Revents&(unix.POLLHUP|unix.POLLRDHUP|unix.POLLERR|unix.POLLNVAL) == 0
}

// ReadEvent waits up to timeout (< 0: forever) for one event message.
//
// The server writes one doorbell byte to the setup socket after each
// event it commits, so that a caller polling Fd wakes up. Reading that
// byte with each event costs a poll and a read per event; instead an
// event already in the ring is taken straight away, and the bytes of the
// events taken so far (owed) are read in one go once the ring runs dry or
// the debt grows, never more than are owed, so a byte that belongs to an
// event not yet taken stays in the socket for the next poll.
func (c *Client) ReadEvent(timeout time.Duration) ([]byte, error) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if !c.ev.TryTake() {
		if err := c.waitEvent(timeout); err != nil {
			return nil, err
		}
	}
	msg, err := c.ev.Read(int(c.maxMsg))
	if err != nil {
		return nil, err
	}
	c.owed++
	if c.owed >= maxOwed {
		c.payDoorbells()
	}
	return msg, nil
}

// maxOwed bounds the doorbell bytes left unread: far below what the
// socket buffers, so the server's doorbell writes never block on them.
const maxOwed = 64

// payDoorbells reads, without waiting, up to the bytes owed.
func (c *Client) payDoorbells() {
	var buf [maxOwed]byte
	for c.owed > 0 {
		n, _, err := unix.Recvfrom(c.fd, buf[:min(c.owed, maxOwed)], unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return // not here yet, or the server left: the next poll tells
		}
		c.owed -= n
	}
}

// waitEvent waits for the socket to announce an event and takes its unit
// of the ring's semaphore.
func (c *Client) waitEvent(timeout time.Duration) error {
	// Bytes of events already taken must not make the poll below return
	// with nothing behind them.
	c.payDoorbells()
	deadline := time.Now().Add(timeout)
	for {
		ms := -1
		if timeout >= 0 {
			ms = int(time.Until(deadline) / time.Millisecond)
			if ms < 0 {
				ms = 0
			}
		}
		pfd := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrTimeout
		}
		if c.ev.TryTake() {
			return nil
		}
		if c.owed > 0 {
			// The byte of an event taken earlier arrived late.
			before := c.owed
			c.payDoorbells()
			if c.owed < before {
				continue
			}
		}
		// A byte with no event behind it yet, or a hang-up.
		if c.waitRing(c.ev, 100*time.Millisecond) {
			return nil
		}
		if !c.alive() {
			return ErrDisconnected
		}
		var b [1]byte
		unix.Read(c.fd, b[:]) // a stray byte with no event behind it
		return ErrTimeout
	}
}

// Close disconnects. If the server has died the client removes the ring
// files itself, as libqb does.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	unix.Close(c.fd)
	gone := c.serverPID > 0 && unix.Kill(c.serverPID, 0) == unix.ESRCH
	c.closeRings(gone)
	return nil
}

func (c *Client) closeRings(unlink bool) {
	for _, r := range []*ipc.Ring{c.req, c.resp, c.ev} {
		if r != nil {
			r.Close(unlink)
		}
	}
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func readFull(fd int, b []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(b) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return ErrTimeout
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return err
		}
		if pfd[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(fd, b)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		b = b[n:]
	}
	return nil
}
