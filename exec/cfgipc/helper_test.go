package cfgipc_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
	"github.com/ringfence/ringfence/ipc/ipctest"
)

// helperEnv turns the test binary into a cmap+cfg IPC server for node 1
// of RINGFENCE_CFGIPC_NODES udpu nodes of which RINGFENCE_CFGIPC_UP are
// members. Callbacks the tools trigger are printed on stdout
// ("SHUTDOWN 1", "RELOAD").
const helperEnv = "RINGFENCE_CFGIPC_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "server" {
		os.Exit(runHelperServer())
	}
	os.Exit(m.Run())
}

func fixtureStore(n int) *cmap.Store {
	store := cmap.New()
	store.Set("totem.transport", cmap.Str("udpu"))
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("nodelist.node.%d.", i-1)
		store.Set(p+"ring0_addr", cmap.Str(fmt.Sprintf("198.18.0.%d", i)))
		store.Set(p+"nodeid", cmap.U32(uint32(i)))
		store.Set(p+"name", cmap.Str(fmt.Sprintf("node%d", i)))
	}
	return store
}

func upTo(n int) []uint32 {
	var out []uint32
	for i := 1; i <= n; i++ {
		out = append(out, uint32(i))
	}
	return out
}

func runHelperServer() int {
	logrus.SetLevel(logrus.WarnLevel)
	var n, up int
	fmt.Sscan(os.Getenv(helperEnv+"_NODES"), &n)
	fmt.Sscan(os.Getenv(helperEnv+"_UP"), &up)
	store := fixtureStore(n)
	out := make(chan string, 16)
	cfg := cfgipc.New(cfgipc.Config{
		NodeID: 1, Store: store, Members: func() []uint32 { return upTo(up) },
		Shutdown:     func(flags uint32) { out <- fmt.Sprintf("SHUTDOWN %d", flags) },
		ReloadConfig: func() ipc.CsError { out <- "RELOAD"; return ipc.CsOK },
	})
	srv := ipc.NewServer(ipc.Config{})
	srv.SetReady(true)
	for _, s := range []*ipc.Service{cmapsvc.New(store, nil).IPCService(), cfg.IPCService()} {
		if err := srv.Serve(s); err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	go func() {
		for l := range out {
			fmt.Println(l)
		}
	}()
	defer func() { cancel(); <-done; srv.Close() }()
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

type server struct {
	ns string
	h  *ipctest.Server
}

func startServer(t testing.TB, nodes, up int) *server {
	t.Helper()
	ns := ipctest.NewNetns(t, "rfcfg")
	h := ipctest.Start(t, ns, helperEnv+"=server", fmt.Sprintf("%s_NODES=%d", helperEnv, nodes), fmt.Sprintf("%s_UP=%d", helperEnv, up))
	return &server{ns: ns, h: h}
}

func (s *server) line(t testing.TB) string { return s.h.Line(t) }
