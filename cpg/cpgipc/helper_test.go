package cpgipc_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	rfexec "github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/exec/exectest"
	"github.com/ringfence/ringfence/ipc"
)

// helperEnv turns the test binary into a single-node cpg+cfg IPC server
// (started inside a fresh network namespace by the interop tests). It
// prints READY and serves until stdin closes.
const helperEnv = "RINGFENCE_CPGIPC_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "server" {
		os.Exit(runHelperServer())
	}
	os.Exit(m.Run())
}

// loopback is one node on an in-memory agreed-order bus: the exec
// messages the cpg handler produces are delivered straight back to the
// node's engine, as totem would on a single-node ring.
type loopback struct {
	bus *exectest.Bus
	eng *rfexec.Engine
	h   *cpgipc.Handler
}

func newLoopback(nodeID uint32) *loopback {
	l := &loopback{bus: exectest.NewBus(), eng: rfexec.NewEngine(nodeID)}
	svc := cpg.New(nodeID)
	if err := l.eng.Register(svc); err != nil {
		panic(err)
	}
	l.h = cpgipc.New(svc, l.eng.Send)
	l.bus.Add(l.eng)
	l.bus.ConfChg(nodeID)
	l.pump()
	return l
}

// pump delivers everything queued and hands the callbacks to clients
// until the node is quiet.
func (l *loopback) pump() {
	for range 1000 {
		l.bus.Run(100)
		l.h.Flush()
		if len(l.bus.Members()) == 0 || !l.pending() {
			return
		}
	}
}

// pending reports whether the flush queued new exec messages.
func (l *loopback) pending() bool {
	r := l.eng.Ready()
	if len(r.Messages) == 0 {
		return false
	}
	l.eng.Send(r.Messages...)
	return true
}

func runHelperServer() int {
	logrus.SetLevel(logrus.WarnLevel)
	store := cmap.New()
	store.Set("nodelist.node.0.ring0_addr", cmap.Str("198.18.0.1"))
	store.Set("nodelist.node.0.nodeid", cmap.U32(1))
	lb := newLoopback(1)
	cfg := cfgipc.New(cfgipc.Config{NodeID: 1, Store: store, Members: func() []uint32 { return lb.bus.Members() }})
	srv := ipc.NewServer(ipc.Config{})
	srv.SetReady(true)
	for _, s := range []*ipc.Service{lb.h.IPCService(), cfg.IPCService()} {
		if err := srv.Serve(s); err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case d := <-srv.Deliveries():
				srv.Dispatch(d)
				lb.pump()
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { cancel(); <-done; srv.Close() }()
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	return 0
}
