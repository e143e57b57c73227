package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

// silent never answers: the client must notice the server going away
// while it waits for a response.
type silent struct{}

func (silent) Connected(*ipc.Conn)             {}
func (silent) Disconnected(*ipc.Conn)          {}
func (silent) Handle(*ipc.Conn, int32, []byte) {}

func TestDialWithoutServer(t *testing.T) {
	_, err := client.Dial(fmt.Sprintf("rftest-nobody-%d", os.Getpid()))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want ECONNREFUSED, got %v", err)
	}
}

func TestClientNoticesServerDeath(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("needs /dev/shm")
	}
	name := fmt.Sprintf("rftest-silent-%d", os.Getpid())
	srv := ipc.NewServer(ipc.Config{})
	srv.SetReady(true)
	if err := srv.Serve(&ipc.Service{Name: name, Handler: silent{}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	defer cancel()
	c, err := client.Dial(name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := make([]byte, 16)
	ipc.PutRequestHeader(req, 0, 16)
	if _, err := c.SendRecv(req, 50*time.Millisecond); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("want a timeout from a silent server, got %v", err)
	}
	res := make(chan error, 1)
	go func() { _, err := c.SendRecv(req, -1); res <- err }()
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	select {
	case err := <-res:
		if !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("want ErrDisconnected, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still waiting 5 s after the server closed")
	}
	if _, err := c.ReadEvent(time.Second); !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("ReadEvent after server death: %v", err)
	}
	if err := c.Send(req); !errors.Is(err, client.ErrDisconnected) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Send after server death: %v", err)
	}
	if m, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-%d-*", os.Getpid(), os.Getpid())); len(m) != 0 {
		t.Fatalf("server left %v", m)
	}
}
