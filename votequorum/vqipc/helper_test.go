package vqipc_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	rfexec "github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"github.com/ringfence/ringfence/totem/wire"
	"github.com/ringfence/ringfence/votequorum"
	"github.com/ringfence/ringfence/votequorum/vqipc"
)

// helperEnv turns the test binary into a cmap+quorum+votequorum+cfg IPC
// server for node 1 of a nodelist of RINGFENCE_VQIPC_NODES nodes, of
// which RINGFENCE_VQIPC_UP are members (run inside a fresh network
// namespace by the tests).
const helperEnv = "RINGFENCE_VQIPC_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "server" {
		os.Exit(runHelperServer())
	}
	os.Exit(m.Run())
}

// node is node 1 with its machine, a queue standing in for totem, and
// the IPC services.
type node struct {
	m     *votequorum.Machine
	svcs  *vqipc.Services
	queue []rfexec.Message
}

// newNode builds node 1 of an n-node nodelist and runs one sync with
// members up (1..up), feeding the other members' NODEINFO as totem
// would deliver them.
func newNode(t testing.TB, n, up int) *node {
	var list []votequorum.NodeEntry
	for i := 1; i <= n; i++ {
		list = append(list, votequorum.NodeEntry{NodeID: uint32(i)})
	}
	m, err := votequorum.New(votequorum.Config{NodeID: 1, Nodelist: list}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{m: m}
	nd.svcs = vqipc.New(m, true, func(msgs ...rfexec.Message) { nd.queue = append(nd.queue, msgs...) })
	var members []uint32
	for i := 1; i <= up; i++ {
		members = append(members, uint32(i))
	}
	ring := votequorum.RingID{Rep: 1, Seq: 4}
	m.SyncInit(members, members, ring)
	m.SyncProcess()
	nd.pump(t)
	for _, id := range members[1:] {
		if err := m.Deliver(id, votequorum.NodeInfo{NodeID: id, Votes: 1, ExpectedVotes: uint32(n)}); err != nil {
			t.Fatal(err)
		}
	}
	m.SyncActivate()
	nd.pump(t)
	nd.svcs.NodelistChanges([]rfexec.NodelistChange{{Ring: wire.RingID{Rep: 1, Seq: 4}, Members: members, Joined: members}})
	return nd
}

// pump delivers node 1's own messages back to it (loopback totem).
func (nd *node) pump(t testing.TB) {
	for range 100 {
		nd.svcs.Flush()
		if len(nd.queue) == 0 {
			return
		}
		q := nd.queue
		nd.queue = nil
		for _, msg := range q {
			if err := nd.m.DeliverBytes(1, msg.Bytes(), false); err != nil {
				t.Fatalf("deliver own message: %v", err)
			}
		}
	}
}

func runHelperServer() int {
	logrus.SetLevel(logrus.WarnLevel)
	var n, up int
	fmt.Sscan(os.Getenv(helperEnv+"_NODES"), &n)
	fmt.Sscan(os.Getenv(helperEnv+"_UP"), &up)
	t := &exitTB{}
	nd := newNode(t, n, up)
	store := cmap.New()
	store.Set("quorum.provider", cmap.Str("corosync_votequorum"))
	store.Set("totem.transport", cmap.Str("udpu"))
	store.Set("runtime.votequorum.this_node_id", cmap.U32(1))
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("nodelist.node.%d.", i-1)
		store.Set(p+"ring0_addr", cmap.Str(fmt.Sprintf("198.18.0.%d", i)))
		store.Set(p+"nodeid", cmap.U32(uint32(i)))
		store.Set(p+"name", cmap.Str(fmt.Sprintf("node%d", i)))
	}
	cfg := cfgipc.New(cfgipc.Config{NodeID: 1, Store: store, Members: func() []uint32 { return nd.m.Members() }})
	srv := ipc.NewServer(ipc.Config{})
	srv.SetReady(true)
	for _, s := range []*ipc.Service{cmapsvc.New(store, nil).IPCService(), nd.svcs.Quorum.IPCService(),
		nd.svcs.Votequorum.IPCService(), cfg.IPCService()} {
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
				nd.pump(t)
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

// exitTB is enough of testing.TB for the helper process.
type exitTB struct{ testing.TB }

func (exitTB) Helper() {}
func (exitTB) Fatal(args ...any) {
	fmt.Println("ERROR", fmt.Sprint(args...))
	os.Exit(1)
}
func (e exitTB) Fatalf(f string, args ...any) { e.Fatal(fmt.Sprintf(f, args...)) }

// startServer runs the helper in a fresh namespace and returns it.
func startServer(t testing.TB, nodes, up int) string {
	t.Helper()
	ns := ipctest.NewNetns(t, "rfvq")
	ipctest.Start(t, ns, helperEnv+"=server", fmt.Sprintf("%s_NODES=%d", helperEnv, nodes), fmt.Sprintf("%s_UP=%d", helperEnv, up))
	return ns
}
