package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

// burster answers a request naming n (its first payload byte times 10)
// with n events numbered 0..n-1, rung as one burst when later is set
// (SendEventLater and Notify) and one by one otherwise.
type burster struct{ later bool }

func (burster) Connected(*ipc.Conn)    {}
func (burster) Disconnected(*ipc.Conn) {}
func (b burster) Handle(c *ipc.Conn, _ int32, req []byte) {
	n := int(req[ipc.RequestHeaderSize]) * 10
	for i := range n {
		ev := make([]byte, ipc.ResponseHeaderSize+2)
		ipc.PutResponseHeader(ev, 7, len(ev), 0)
		ev[ipc.ResponseHeaderSize], ev[ipc.ResponseHeaderSize+1] = byte(i), byte(i>>8)
		if b.later {
			c.SendEventLater(ev)
		} else {
			c.SendEvent(ev)
		}
	}
	if b.later {
		c.Notify()
	}
}

func readable(t *testing.T, fd int, ms int) bool {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, ms)
	if err != nil && err != unix.EINTR {
		t.Fatal(err)
	}
	return n > 0
}

// TestEventDoorbells: ReadEvent takes events straight from the ring and
// settles their doorbell bytes in bulk, yet a caller that polls Fd still
// wakes exactly when an event waits and not after the last one is read.
func TestEventDoorbells(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("needs /dev/shm")
	}
	for _, later := range []bool{false, true} {
		t.Run(fmt.Sprintf("burst=%v", later), func(t *testing.T) {
			name := fmt.Sprintf("rftest-bell-%d-%v", os.Getpid(), later)
			srv := ipc.NewServer(ipc.Config{})
			srv.SetReady(true)
			if err := srv.Serve(&ipc.Service{Name: name, Handler: burster{later: later}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go srv.Run(ctx)
			defer func() { cancel(); srv.Close() }()
			c, err := client.Dial(name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// No event, then 20 (below the debt bound), then 200 (above).
			for _, tens := range []byte{0, 2, 20} {
				want := int(tens) * 10
				req := make([]byte, ipc.RequestHeaderSize+1)
				ipc.PutRequestHeader(req, 0, len(req))
				req[ipc.RequestHeaderSize] = tens
				if err := c.Send(req); err != nil {
					t.Fatal(err)
				}
				if want == 0 {
					// No event: the poll must stay quiet.
					if readable(t, c.Fd(), 100) {
						t.Fatal("Fd readable with no event sent")
					}
					if _, err := c.ReadEvent(0); !errors.Is(err, client.ErrTimeout) {
						t.Fatalf("ReadEvent with nothing sent: %v", err)
					}
					continue
				}
				if !readable(t, c.Fd(), 2000) {
					t.Fatalf("%d events sent, Fd not readable", want)
				}
				for i := range want {
					ev, err := c.ReadEvent(time.Second)
					if err != nil {
						t.Fatalf("event %d of %d: %v", i, want, err)
					}
					if got := int(ev[ipc.ResponseHeaderSize]) | int(ev[ipc.ResponseHeaderSize+1])<<8; got != i {
						t.Fatalf("event %d arrived as %d", i, got)
					}
				}
				if _, err := c.ReadEvent(0); !errors.Is(err, client.ErrTimeout) {
					t.Fatalf("after %d events: %v, want a timeout", want, err)
				}
				// Every doorbell byte is settled: a poller sleeps.
				if readable(t, c.Fd(), 50) {
					t.Fatalf("Fd still readable after all %d events were read", want)
				}
			}
		})
	}
}
