package cfgipc_test

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
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
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
	ns  string
	out *bufio.Reader
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

func startServer(t testing.TB, nodes, up int) *server {
	t.Helper()
	ns := fmt.Sprintf("rfcfg%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=server", fmt.Sprintf("%s_NODES=%d", helperEnv, nodes), fmt.Sprintf("%s_UP=%d", helperEnv, up))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	s := &server{ns: ns, out: bufio.NewReader(stdout)}
	if l := s.line(t); l != "READY" {
		t.Fatalf("helper server did not start: %q", l)
	}
	return s
}

func (s *server) line(t testing.TB) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() { l, _ := s.out.ReadString('\n'); ch <- strings.TrimSpace(l) }()
	select {
	case l := <-ch:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("timed out reading the helper")
	}
	return ""
}
