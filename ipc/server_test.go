package ipc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

// echoService answers request id 0 with its payload echoed back and
// request id 1 by sending N events (N = u32 at offset 16) and then a
// response.
type echoService struct {
	mu           sync.Mutex
	connected    int
	disconnected int
	lastConn     *ipc.Conn
}

func (e *echoService) Connected(c *ipc.Conn) {
	e.mu.Lock()
	e.connected++
	e.lastConn = c
	e.mu.Unlock()
}

func (e *echoService) Disconnected(c *ipc.Conn) {
	e.mu.Lock()
	e.disconnected++
	e.mu.Unlock()
}

func (e *echoService) Handle(c *ipc.Conn, id int32, msg []byte) {
	switch id {
	case 0:
		out := ipc.NewResponse(100, ipc.ResponseHeaderSize+len(msg)-ipc.RequestHeaderSize, ipc.CsOK)
		copy(out[ipc.ResponseHeaderSize:], msg[ipc.RequestHeaderSize:])
		c.Respond(out)
	case 1:
		n := int(binary.LittleEndian.Uint32(msg[16:]))
		for i := range n {
			ev := ipc.NewResponse(200, 32, ipc.CsOK)
			binary.LittleEndian.PutUint64(ev[24:], uint64(i))
			if err := c.SendEvent(ev); err != nil {
				panic(err)
			}
		}
		c.Respond(ipc.NewResponse(101, ipc.ResponseHeaderSize, ipc.CsOK))
	case 2:
		panic("handler bug")
	case 3:
		// N events (u32 @16) paced by a pause (µs, u32 @20), errors
		// ignored: the client may be refusing them.
		n := int(binary.LittleEndian.Uint32(msg[16:]))
		pause := time.Duration(binary.LittleEndian.Uint32(msg[20:])) * time.Microsecond
		for i := range n {
			ev := ipc.NewResponse(200, 32, ipc.CsOK)
			binary.LittleEndian.PutUint64(ev[24:], uint64(i))
			c.SendEvent(ev)
			if pause > 0 {
				time.Sleep(pause)
			}
		}
		c.Respond(ipc.NewResponse(103, ipc.ResponseHeaderSize, ipc.CsOK))
	case 4:
		// Like 1, but each event in two parts with its doorbell owed
		// until one Notify for the burst.
		n := int(binary.LittleEndian.Uint32(msg[16:]))
		for i := range n {
			ev := ipc.NewResponse(200, 32, ipc.CsOK)
			binary.LittleEndian.PutUint64(ev[24:], uint64(i))
			if err := c.SendEventLater(ev[:20], ev[20:]); err != nil {
				panic(err)
			}
		}
		c.Notify()
		c.Respond(ipc.NewResponse(104, ipc.ResponseHeaderSize, ipc.CsOK))
	}
}

func (e *echoService) counts() (int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.connected, e.disconnected
}

var svcSeq atomic.Int32

type fixture struct {
	srv  *ipc.Server
	svc  *ipc.Service
	echo *echoService
	name string
}

func startEcho(t testing.TB, cfg ipc.Config) *fixture {
	t.Helper()
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("needs /dev/shm")
	}
	name := fmt.Sprintf("rftest%d-%d", os.Getpid(), svcSeq.Add(1))
	echo := &echoService{}
	svc := &ipc.Service{Name: name, ID: 99, Handler: echo, RequestSizes: []int{16, 20, 16, 24, 20}}
	srv := ipc.NewServer(cfg)
	srv.SetReady(true)
	if err := srv.Serve(svc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		if m, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-%d-*", os.Getpid(), os.Getpid())); len(m) != 0 {
			t.Errorf("shared-memory directories left behind: %v", m)
			for _, d := range m {
				os.RemoveAll(d)
			}
		}
	})
	return &fixture{srv: srv, svc: svc, echo: echo, name: name}
}

func request(id int32, payload []byte) []byte {
	b := make([]byte, ipc.RequestHeaderSize+len(payload))
	ipc.PutRequestHeader(b, id, len(b))
	copy(b[ipc.RequestHeaderSize:], payload)
	return b
}

func TestEchoAcrossRingWrap(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	// A small ring makes the chunks wrap around its end many times.
	c, err := client.DialOptions(f.name, client.Options{MaxMsgSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2000 {
		payload := bytes.Repeat([]byte{byte(i)}, (i*37)%4900)
		resp, err := c.SendRecv(request(0, payload), 5*time.Second)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		h, err := ipc.ParseResponseHeader(resp)
		if err != nil || h.ID != 100 || int(h.Size) != len(resp) || h.Error != ipc.CsOK {
			t.Fatalf("request %d: bad response header %+v (%v)", i, h, err)
		}
		if !bytes.Equal(resp[ipc.ResponseHeaderSize:], payload) {
			t.Fatalf("request %d: echo differs", i)
		}
	}
}

func TestEventsInOrderBeyondRingCapacity(t *testing.T) {
	t.Run("doorbell per event", func(t *testing.T) { testEventsInOrder(t, 1, 3000) })
	// SendEventLater: written from parts, one Notify for the burst; the
	// client still finds one doorbell byte per event.
	t.Run("doorbells per burst", func(t *testing.T) { testEventsInOrder(t, 4, 3000) })
	t.Run("doorbells per small burst", func(t *testing.T) { testEventsInOrder(t, 4, 7) })
}

func testEventsInOrder(t *testing.T, id int32, n int) {
	f := startEcho(t, ipc.Config{})
	c, err := client.DialOptions(f.name, client.Options{MaxMsgSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 3000 is far more than a 8 KiB event ring holds: exercises the queue.
	req := request(id, binary.LittleEndian.AppendUint32(nil, uint32(n)))
	if _, err := c.SendRecv(req, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev, err := c.ReadEvent(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if len(ev) != 32 || binary.LittleEndian.Uint64(ev[24:]) != uint64(i) {
			t.Fatalf("event %d: got % x", i, ev)
		}
	}
	if _, err := c.ReadEvent(50 * time.Millisecond); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("extra event or error: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	f := startEcho(t, ipc.Config{Authorize: func(svc *ipc.Service, cr ipc.Cred) syscall.Errno {
		if cr.PID != os.Getpid() {
			return syscall.EPERM
		}
		return syscall.EACCES
	}})
	if _, err := client.Dial(f.name); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("want EACCES from the authorizer, got %v", err)
	}
	f.srv.SetReady(false)
	if _, err := client.Dial(f.name); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("want EAGAIN before ready, got %v", err)
	}
	if got := f.srv.Stats().Refused; got != 2 {
		t.Fatalf("refused = %d, want 2", got)
	}
	if m, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-%d-*", os.Getpid(), os.Getpid())); len(m) != 0 {
		t.Fatalf("refused connections left directories: %v", m)
	}
}

func TestDisconnectCleansUp(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	c, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendRecv(request(0, []byte("hi")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.echo.mu.Lock()
	dir := filepath.Dir(f.echo.lastConn.Description())
	f.echo.mu.Unlock()
	files, _ := os.ReadDir(dir)
	if len(files) != 6 {
		t.Fatalf("%s holds %d files, want 6", dir, len(files))
	}
	c.Close()
	waitFor(t, func() bool { _, d := f.echo.counts(); return d == 1 })
	waitFor(t, func() bool { _, err := os.Stat(dir); return os.IsNotExist(err) })
	if s := f.srv.Stats(); s.Active != 0 || s.Closed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInvalidRequestsAnsweredAndCounted(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	c, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := [][]byte{
		request(7, nil),  // unknown id
		request(-5, nil), // negative id
		request(1, nil),  // id 1 needs 20 bytes
		make([]byte, 16), // header only, size field 0
		func() []byte { b := request(0, []byte("xyz")); binary.LittleEndian.PutUint32(b[8:], 999); return b }(), // lying size
	}
	for i, m := range bad {
		resp, err := c.SendRecv(m, 5*time.Second)
		if err != nil {
			t.Fatalf("bad request %d: %v", i, err)
		}
		h, _ := ipc.ParseResponseHeader(resp)
		if len(resp) != 24 || h.Error != ipc.CsErrInvalidParm {
			t.Fatalf("bad request %d: response % x", i, resp)
		}
	}
	// A panicking handler closes only that connection.
	c.Send(request(2, nil))
	waitFor(t, func() bool { _, d := f.echo.counts(); return d == 1 })
	f.echo.mu.Lock()
	st := f.echo.lastConn.Stats()
	f.echo.mu.Unlock()
	if st.InvalidRequest != uint64(len(bad))+1 {
		t.Fatalf("invalid_request = %d, want %d", st.InvalidRequest, len(bad)+1)
	}
	c2, err := client.Dial(f.name)
	if err != nil {
		t.Fatalf("server unusable after a handler panic: %v", err)
	}
	c2.Close()
}

func TestFlowControlStopsClientSends(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	c, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f.srv.SetFlowControl(1)
	if _, err := c.SendRecv(request(0, nil), time.Second); !errors.Is(err, client.ErrTryAgain) {
		t.Fatalf("want EAGAIN under flow control, got %v", err)
	}
	f.srv.SetFlowControl(0)
	if _, err := c.SendRecv(request(0, nil), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

// TestHostileClientCannotCrashServer: a client owns its ring files, so it
// can truncate them (touching the lost pages raises SIGBUS) or scribble
// over the chunk headers. Either way only its own connection must die.
func TestHostileClientCannotCrashServer(t *testing.T) {
	for _, attack := range []string{"truncate", "scribble"} {
		t.Run(attack, func(t *testing.T) {
			f := startEcho(t, ipc.Config{})
			c, err := client.Dial(f.name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.SendRecv(request(0, []byte("warm up")), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			f.echo.mu.Lock()
			conn := f.echo.lastConn
			f.echo.mu.Unlock()
			base := conn.Description() + "-request-" + f.name
			ring, err := ipc.OpenRing(base)
			if err != nil {
				t.Fatal(err)
			}
			_, dataPath := ring.Paths()
			switch attack {
			case "truncate":
				if err := os.Truncate(dataPath, 0); err != nil {
					t.Fatal(err)
				}
			case "scribble":
				// A committed-looking chunk claiming 1 GiB.
				garbage := binary.LittleEndian.AppendUint32(nil, 1<<30)
				garbage = binary.LittleEndian.AppendUint32(garbage, 0xA1A1A1A1)
				fd, _ := os.OpenFile(dataPath, os.O_RDWR, 0)
				fd.WriteAt(bytes.Repeat(garbage, 1024), 0)
				fd.Close()
			}
			// Announce a request the way a client does: post + doorbell.
			ipc.RingPostForTest(ring)
			ring.Close(false)
			syscall.Write(c.Fd(), []byte{1})
			waitFor(t, func() bool { _, d := f.echo.counts(); return d == 1 })
			if st := conn.Stats(); st.InvalidRequest == 0 {
				t.Fatalf("corrupt ring not counted: %+v", st)
			}
			c2, err := client.Dial(f.name)
			if err != nil {
				t.Fatalf("server unusable after the attack: %v", err)
			}
			defer c2.Close()
			if _, err := c2.SendRecv(request(0, []byte("still here")), 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestManyConcurrentClients: connections come and go in parallel while
// others exchange requests and events; every reply must reach the client
// that asked, and nothing may be left behind.
func TestManyConcurrentClients(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	const clients, rounds = 16, 100
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			c, err := client.DialOptions(f.name, client.Options{MaxMsgSize: 8192})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for r := range rounds {
				payload := []byte(fmt.Sprintf("client %d round %d", i, r))
				resp, err := c.SendRecv(request(0, payload), 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(resp[ipc.ResponseHeaderSize:], payload) {
					errs <- fmt.Errorf("client %d got %q", i, resp[ipc.ResponseHeaderSize:])
					return
				}
				if r%10 == 0 {
					if _, err := c.SendRecv(request(1, binary.LittleEndian.AppendUint32(nil, 3)), 5*time.Second); err != nil {
						errs <- err
						return
					}
					for e := range 3 {
						ev, err := c.ReadEvent(5 * time.Second)
						if err != nil || binary.LittleEndian.Uint64(ev[24:]) != uint64(e) {
							errs <- fmt.Errorf("client %d event %d: %v", i, e, err)
							return
						}
					}
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { c, d := f.echo.counts(); return c == clients && d == clients })
}

// TestClientIgnoringDoorbellsCannotBlockOwner: a client that drains its
// event ring but never reads the doorbell bytes fills its socket; the
// owner goroutine must keep running (bytes are owed, not waited for).
func TestClientIgnoringDoorbellsCannotBlockOwner(t *testing.T) {
	f := startEcho(t, ipc.Config{})
	c, err := client.DialOptions(f.name, client.Options{MaxMsgSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SendRecv(request(0, nil), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.echo.mu.Lock()
	conn := f.echo.lastConn
	f.echo.mu.Unlock()
	ev, err := ipc.OpenRing(conn.Description() + "-event-" + f.name)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close(false)
	stop := make(chan struct{})
	drained := make(chan int)
	go func() { // consume events straight from the ring, never the socket
		n := 0
		for {
			select {
			case <-stop:
				drained <- n
				return
			default:
			}
			if ev.TryTake() {
				if _, err := ev.Read(-1); err == nil {
					n++
				}
			} else {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	// Far more doorbell bytes than a unix socket buffers, slowly enough
	// that the ring never fills: every event takes the direct path.
	const n = 1000
	args := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, n), 20)
	if _, err := c.SendRecv(request(3, args), 20*time.Second); err != nil {
		t.Fatalf("owner blocked by a full client socket: %v", err)
	}
	// The owner still serves other clients.
	c2, err := client.Dial(f.name)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.SendRecv(request(0, []byte("alive")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	close(stop)
	got := <-drained
	st := conn.Stats()
	t.Logf("drained %d events, stats %+v", got, st)
	// Enough events must have gone through the ring to overflow the
	// socket with doorbells (each 1-byte write costs ~1 KB of buffer).
	if got < n/2 {
		t.Fatalf("only %d events reached the ring", got)
	}
}
