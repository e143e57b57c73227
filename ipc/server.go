package ipc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Handler is what a service implements. All three methods run on the
// owner goroutine (the one calling Server.Dispatch), never concurrently.
type Handler interface {
	// Connected runs once the client has its rings (Corosync's lib_init_fn).
	Connected(c *Conn)
	// Handle gets one whole request message, header included, after the
	// server checked its id and size against Service.RequestSizes. The
	// message is a private copy. Reply with c.Respond.
	Handle(c *Conn, id int32, msg []byte)
	// Disconnected runs once when the connection is gone (lib_exit_fn);
	// after it returns the rings are unmapped and removed.
	Disconnected(c *Conn)
}

// Service is one IPC endpoint, e.g. {Name: "cmap", ID: 0}.
type Service struct {
	Name    string
	ID      int
	Handler Handler
	// RequestSizes[id] is the smallest valid request with that id; ids at
	// or beyond len(RequestSizes) are unknown and answered with
	// CS_ERR_INVALID_PARAM. Nil means "any id, any size".
	RequestSizes []int
}

// Authorizer decides whether a client may connect; a non-zero errno is
// sent back in the handshake (EACCES for Corosync's refusals). It runs on
// the connection's own goroutine and must be safe for concurrent use.
type Authorizer func(svc *Service, cred Cred) syscall.Errno

// Config tunes a Server. The zero value works.
type Config struct {
	// MaxMsgSize caps the ring size a client may ask for (default 8 MiB).
	MaxMsgSize uint32
	// ShmDir holds the per-connection directories (default /dev/shm).
	ShmDir string
	// Authorize is consulted for every connection; nil accepts everybody.
	Authorize Authorizer
	// MaxConns refuses further connections with EMFILE (0 = no limit).
	MaxConns int
	// QueueLen is the capacity of the delivery channel (default 256).
	QueueLen int
	// MaxQueuedEvents bounds the events kept per connection while its
	// event ring is full (default 4096); beyond that SendEvent fails.
	MaxQueuedEvents int
	// SocketType serves libqb's socket connection type (datagram
	// sockets; handy with strace, fine for the corosync tools) instead of
	// shared memory, which is the default and what Pacemaker requires.
	SocketType bool
	// HandshakeTimeout bounds the wait for the 24-byte request (default 5 s).
	HandshakeTimeout time.Duration
	Log              *logrus.Entry
}

// Server serves libqb IPC for any number of services.
type Server struct {
	cfg        Config
	log        *logrus.Entry
	ready      atomic.Bool
	fc         atomic.Int32
	deliveries chan Delivery
	done       chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
	nextID     atomic.Uint64

	mu        sync.Mutex
	listeners []*net.UnixListener
	conns     map[*Conn]struct{}
	fcWake    chan struct{} // closed and replaced when flow control drops

	active, closed, refused, badHello atomic.Uint64
}

// DeliveryKind tells what a Delivery carries.
type DeliveryKind int

// The kinds of deliveries, in the order a connection produces them.
const (
	DeliverConnected DeliveryKind = iota
	DeliverRequest
	DeliverDisconnected
)

// Delivery is one unit of work for the owner goroutine; pass it to
// Server.Dispatch.
type Delivery struct {
	Kind DeliveryKind
	Conn *Conn
	Msg  []byte
}

// NewServer makes a server; nothing listens until Serve.
func NewServer(cfg Config) *Server {
	if cfg.MaxMsgSize == 0 {
		cfg.MaxMsgSize = 8 << 20
	}
	if cfg.ShmDir == "" {
		cfg.ShmDir = "/dev/shm"
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	if cfg.MaxQueuedEvents <= 0 {
		cfg.MaxQueuedEvents = 4096
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = logrus.WithField("subsys", "IPC")
	}
	s := &Server{cfg: cfg, log: log, deliveries: make(chan Delivery, cfg.QueueLen),
		done: make(chan struct{}), conns: make(map[*Conn]struct{}), fcWake: make(chan struct{})}
	var seed [8]byte
	rand.Read(seed[:])
	s.nextID.Store(uint64(seed[0])<<40 | uint64(seed[1])<<32 | 0x5000_0000) // looks like a pointer, never 0
	return s
}

// SetReady opens (or closes) the door: until the daemon is ready, e.g.
// before its first sync completes, handshakes are answered with EAGAIN and
// clients retry.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// SetFlowControl sets the flow-control word of every connection (0 = off,
// 1 or 2 = Corosync's QB_IPCS_RATE_OFF levels) and stops reading requests
// while it is non-zero.
func (s *Server) SetFlowControl(level int32) {
	old := s.fc.Swap(level)
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	if level == 0 && old != 0 {
		close(s.fcWake)
		s.fcWake = make(chan struct{})
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.setFlowControl(level)
	}
}

func (s *Server) fcWait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fcWake
}

// Deliveries is the channel the owner goroutine reads.
func (s *Server) Deliveries() <-chan Delivery { return s.deliveries }

// Stats returns the global counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Active: s.active.Load(), Closed: s.closed.Load(), Refused: s.refused.Load(), BadHello: s.badHello.Load()}
}

// Serve starts listening for svc and accepting in the background.
func (s *Server) Serve(svc *Service) error {
	if svc.Handler == nil {
		return fmt.Errorf("ipc: service %q has no handler", svc.Name)
	}
	l, err := Listen(svc.Name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		l.Close()
		return net.ErrClosed
	default:
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	s.wg.Add(1)
	go s.acceptLoop(l, svc)
	s.log.WithField("service", svc.Name).Info("IPC service listening")
	return nil
}

func (s *Server) acceptLoop(l *net.UnixListener, svc *Service) {
	defer s.wg.Done()
	for {
		sock, err := l.AcceptUnix()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.WithError(err).Warn("accept failed")
			time.Sleep(50 * time.Millisecond) // e.g. EMFILE: don't spin
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handshake(sock, svc)
		}()
	}
}

// Run is an owner loop for programs that have no other protocol goroutine
// (tests, small tools): it dispatches until ctx ends or the server closes.
func (s *Server) Run(ctx context.Context) {
	for {
		select {
		case d := <-s.deliveries:
			s.Dispatch(d)
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// Dispatch carries out one delivery on the calling (owner) goroutine.
func (s *Server) Dispatch(d Delivery) {
	c := d.Conn
	switch d.Kind {
	case DeliverConnected:
		if c.isClosed() {
			return
		}
		c.greeted = true
		s.callHandler(c, func() { c.svc.Handler.Connected(c) })
	case DeliverRequest:
		if !c.greeted || c.isClosed() {
			return
		}
		s.dispatchRequest(c, d.Msg)
	case DeliverDisconnected:
		if c.greeted {
			c.greeted = false
			s.callHandler(c, func() { c.svc.Handler.Disconnected(c) })
		}
		c.release()
	}
}

func (s *Server) dispatchRequest(c *Conn, msg []byte) {
	h, err := ParseRequestHeader(msg)
	valid := err == nil && int(h.Size) == len(msg)
	if valid && c.svc.RequestSizes != nil {
		valid = h.ID >= 0 && int(h.ID) < len(c.svc.RequestSizes) && len(msg) >= c.svc.RequestSizes[h.ID]
	}
	if !valid {
		c.ctr.invalid.Add(1)
		c.log.WithFields(logrus.Fields{"id": h.ID, "size": h.Size, "len": len(msg)}).Debug("invalid IPC request")
		c.Respond(NewResponse(0, ResponseHeaderSize, CsErrInvalidParm))
		return
	}
	c.ctr.requests.Add(1)
	s.callHandler(c, func() { c.svc.Handler.Handle(c, h.ID, msg) })
}

// callHandler keeps a buggy service from taking the daemon down: a panic
// closes that one connection and is logged.
func (s *Server) callHandler(c *Conn, f func()) {
	defer func() {
		if p := recover(); p != nil {
			c.ctr.invalid.Add(1)
			c.log.WithField("panic", p).Error("IPC service handler panicked; closing connection")
			c.Close()
		}
	}()
	f()
}

func (s *Server) deliver(d Delivery) bool {
	select {
	case s.deliveries <- d:
		return true
	case <-s.done:
		return false
	}
}

// Close stops listening and drops every connection. Call it from the owner
// goroutine or after the owner stopped dispatching.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		for _, l := range s.listeners {
			l.Close()
		}
		conns := make([]*Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		s.wg.Wait()
		for _, c := range conns {
			c.release()
		}
		// Connections that ended before Close may still have their
		// Disconnected delivery queued; nobody will dispatch it now.
		for {
			select {
			case d := <-s.deliveries:
				d.Conn.release()
				continue
			default:
			}
			break
		}
	})
}

func (s *Server) countConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// handshake answers one connection request and, on success, turns the
// socket into a live connection.
func (s *Server) handshake(sock *net.UnixConn, svc *Service) {
	log := s.log.WithField("service", svc.Name)
	sock.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	buf := make([]byte, ConnRequestSize)
	if _, err := io.ReadFull(sock, buf); err != nil {
		s.badHello.Add(1)
		sock.Close()
		return
	}
	req, err := ParseConnRequest(buf)
	if err != nil {
		s.badHello.Add(1)
		log.WithError(err).Debug("closing setup socket")
		sock.Close()
		return
	}
	cred, err := PeerCred(sock)
	if err != nil {
		s.badHello.Add(1)
		sock.Close()
		return
	}
	log = log.WithField("pid", cred.PID)
	refuse := func(e syscall.Errno) {
		s.refused.Add(1)
		log.WithError(e).Info("IPC connection refused")
		sock.Write(ConnResponse{Err: e}.Encode())
		sock.Close()
	}
	switch {
	case !s.ready.Load():
		refuse(syscall.EAGAIN)
		return
	case s.cfg.MaxConns > 0 && s.countConns() >= s.cfg.MaxConns:
		refuse(syscall.EMFILE)
		return
	}
	if s.cfg.Authorize != nil {
		if e := s.cfg.Authorize(svc, cred); e != 0 {
			refuse(e)
			return
		}
	}
	maxMsg := req.MaxMsgSize
	if maxMsg > s.cfg.MaxMsgSize {
		maxMsg = s.cfg.MaxMsgSize
	}
	c, err := s.newConn(sock, svc, cred, maxMsg)
	if err != nil {
		log.WithError(err).Warn("cannot set up IPC connection")
		var e syscall.Errno
		if !errors.As(err, &e) {
			e = syscall.ENOMEM
		}
		refuse(e)
		return
	}
	// Register before answering so that a flow-control change racing
	// with the handshake cannot miss this connection.
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		c.release()
		sock.Close()
		return
	default:
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.active.Add(1)
	if fc := s.fc.Load(); fc != 0 {
		c.setFlowControl(fc)
	}
	resp := ConnResponse{ConnType: ConnTypeSHM, MaxMsgSize: maxMsg, Connection: c.id,
		Request: c.base + "-request-" + svc.Name, Response: c.base + "-response-" + svc.Name,
		Event: c.base + "-event-" + svc.Name}
	if c.dg != nil {
		resp.ConnType = ConnTypeSocket
		resp.Request, resp.Response, resp.Event = c.dg.ctlPath, c.dgramBase(), ""
	}
	if _, err := sock.Write(resp.Encode()); err != nil {
		s.forget(c)
		c.release()
		sock.Close()
		return
	}
	sock.SetDeadline(time.Time{})
	log.WithField("conn", c.Description()).Debug("IPC connection established")
	if !s.deliver(Delivery{Kind: DeliverConnected, Conn: c}) {
		sock.Close()
		s.forget(c)
		c.release()
		return
	}
	s.wg.Add(2)
	if c.dg != nil {
		go c.readLoopDgram()
	} else {
		go c.readLoop()
	}
	go c.writeLoop()
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok {
		s.active.Add(^uint64(0))
		s.closed.Add(1)
	}
}

// mkConnDir makes /dev/shm/qb-<server pid>-<client pid>-<fd>-XXXXXX with
// mode 0770 owned by the client, like libqb's mkdtemp.
func (s *Server) mkConnDir(cred Cred, fd int) (string, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 100 {
		var rnd [6]byte
		rand.Read(rnd[:])
		for i := range rnd {
			rnd[i] = letters[int(rnd[i])%len(letters)]
		}
		dir := fmt.Sprintf("%s/qb-%d-%d-%d-%s", s.cfg.ShmDir, os.Getpid(), cred.PID, fd, rnd[:])
		err := os.Mkdir(dir, 0700)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0770); err != nil {
			os.Remove(dir)
			return "", err
		}
		os.Chown(dir, cred.UID, cred.GID) // fails harmlessly when not root
		return dir, nil
	}
	return "", syscall.EEXIST
}

// Conns returns the live connections (for statistics).
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}
