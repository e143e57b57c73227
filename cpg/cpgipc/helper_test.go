package cpgipc_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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

func needTools(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
}

func newNetns(t testing.TB) string {
	t.Helper()
	ns := fmt.Sprintf("rfcpg%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}

// startNsServer runs the helper server in namespace ns.
func startNsServer(t testing.TB, ns string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=server")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCmd(cmd, stdin) })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("helper server did not start: %q %v", line, err)
	}
}

func stopCmd(cmd *exec.Cmd, stdin io.Closer) {
	stdin.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
