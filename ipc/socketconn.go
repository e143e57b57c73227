package ipc

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dgramConn is libqb's socket connection type (QB_IPC_SOCKET): one
// datagram per message on abstract datagram sockets named after the
// connection, plus a 24-byte shared control file holding, per direction,
// a message count and (for requests) the flow-control word. The setup
// socket only tells us when the client goes away. It does not satisfy
// Pacemaker's peer-credential check, so it is a debugging aid.
type dgramConn struct {
	ctlPath string
	ctl     []byte // three {int32 sent; int32 flow_control}
	req     *net.UnixConn
	ev      *net.UnixConn
	respTo  string // client's socket names, connected on first send
	evTo    string
	respOK  bool
	evOK    bool
}

const (
	ctlSize         = 24
	ctlRequest      = 0
	ctlResponse     = 8
	ctlEvent        = 16
	dgramMaxRetries = 10
)

func (d *dgramConn) counter(off int) *atomic.Int32 {
	return (*atomic.Int32)(unsafe.Pointer(&d.ctl[off]))
}

// newDgramConn creates the control file and binds the server's two
// datagram sockets ("<base>-request" and "<base>-event-tx").
func newDgramConn(c *Conn) (d *dgramConn, err error) {
	d = &dgramConn{ctlPath: c.base + "-control-" + c.svc.Name}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	fd, err := createShmFile(d.ctlPath, ctlSize, c.cred.UID, c.cred.GID)
	if err != nil {
		return nil, err
	}
	d.ctl, err = unix.Mmap(fd, 0, ctlSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	base := c.dgramBase()
	if d.req, err = bindDgram(base+"-request", c.maxMsg); err != nil {
		return nil, err
	}
	if d.ev, err = bindDgram(base+"-event-tx", c.maxMsg); err != nil {
		return nil, err
	}
	d.respTo, d.evTo = base+"-response", base+"-event"
	return d, nil
}

func (c *Conn) dgramBase() string { return c.base + "-" + c.svc.Name }

func bindDgram(name string, maxMsg uint32) (*net.UnixConn, error) {
	sa, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := rawSockaddrCall(unix.SYS_BIND, fd, sa); err != nil {
		return nil, fmt.Errorf("ipc: bind %s: %w", name, err)
	}
	// Room for one maximal message each way, as libqb sizes them.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, int(maxMsg)+1024)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, int(maxMsg)+1024)
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UnixConn), nil
}

// connectTo connects a datagram socket to the client's padded name.
func connectTo(uc *net.UnixConn, name string) error {
	sa, err := abstractAddr(name)
	if err != nil {
		return err
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = rawSockaddrCall(unix.SYS_CONNECT, int(fd), sa) }); err != nil {
		return err
	}
	return cerr
}

// send writes one datagram, connecting first if needed. The client binds
// its sockets right after the handshake, so early sends may need a retry.
func (d *dgramConn) send(uc *net.UnixConn, to string, connected *bool, ctlOff int, msg []byte) error {
	if !*connected {
		var err error
		for i := 0; i < dgramMaxRetries; i++ {
			if err = connectTo(uc, to); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		*connected = true
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	// One non-blocking write: a full socket is reported like a full ring.
	var werr error
	if err := rc.Write(func(fd uintptr) bool { _, werr = unix.Write(int(fd), msg); return true }); err != nil {
		return err
	}
	if werr == unix.EAGAIN {
		return ErrRingFull
	}
	if werr != nil {
		return werr
	}
	// The control file belongs to the client, which may truncate it.
	return guard(func() error { d.counter(ctlOff).Add(1); return nil })
}

func (d *dgramConn) respond(msg []byte) error {
	return d.send(d.req, d.respTo, &d.respOK, ctlResponse, msg)
}

func (d *dgramConn) event(msg []byte) error { return d.send(d.ev, d.evTo, &d.evOK, ctlEvent, msg) }

func (d *dgramConn) setFlowControl(v int32) {
	guard(func() error { d.counter(ctlRequest + 4).Store(v); return nil })
}

func (d *dgramConn) close() {
	if d.req != nil {
		d.req.Close()
	}
	if d.ev != nil {
		d.ev.Close()
	}
	if d.ctl != nil {
		unix.Munmap(d.ctl)
		d.ctl = nil
	}
	os.Remove(d.ctlPath)
}

// readLoopDgram is readLoop for the socket type: requests arrive as
// datagrams; the setup socket is watched for the client's departure.
func (c *Conn) readLoopDgram() {
	defer c.srv.wg.Done()
	defer c.finish()
	go func() {
		var b [16]byte
		for {
			if n, err := c.sock.Read(b[:]); n == 0 || err != nil {
				c.Close()
				return
			}
		}
	}()
	buf := make([]byte, c.maxMsg+1)
	for {
		n, err := c.dg.req.Read(buf)
		if err != nil || c.isClosed() {
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
		if err := guard(func() error {
			if sent := c.dg.counter(ctlRequest); sent.Load() > 0 {
				sent.Add(-1)
			}
			return nil
		}); err != nil {
			c.ctr.invalid.Add(1)
			return
		}
		if n == 0 || n > int(c.maxMsg) {
			return // libqb: a zero-length message means goodbye
		}
		msg := append([]byte(nil), buf[:n]...)
		if h, err := ParseRequestHeader(msg); err == nil && h.ID == MsgDisconnect {
			return
		}
		if !c.srv.deliver(Delivery{Kind: DeliverRequest, Conn: c, Msg: msg}) {
			return
		}
	}
}
