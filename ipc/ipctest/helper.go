package ipctest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NeedRoot skips the test unless it runs as root with ip(8) and tools on
// the PATH.
func NeedRoot(t testing.TB, tools ...string) {
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

// NewNetns creates a network namespace named after prefix and the
// process, removed when the test ends; the test skips if it cannot.
func NewNetns(t testing.TB, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}

// Server is the test binary running as an IPC server in namespace NS.
// Stdin and Out are its command and answer channels, for packages whose
// helper takes requests; Cmd's process is the server itself (ip netns
// exec replaces itself with it), whose pid names its /dev/shm rings.
type Server struct {
	NS    string
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	Out   *bufio.Reader
}

// Start runs this test binary in namespace ns with env added to the
// environment, and returns once it printed READY. The server is stopped
// (stdin closed, killed after 5 s) when the test ends.
func Start(t testing.TB, ns string, env ...string) *Server {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(cmd, stdin) })
	s := &Server{NS: ns, Cmd: cmd, Stdin: stdin, Out: bufio.NewReader(stdout)}
	if l := s.Line(t); l != "READY" {
		t.Fatalf("helper server did not start: %q", l)
	}
	return s
}

// Line reads the server's next output line, failing after 10 s.
func (s *Server) Line(t testing.TB) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() { l, _ := s.Out.ReadString('\n'); ch <- strings.TrimSpace(l) }()
	select {
	case l := <-ch:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("timed out reading the helper server")
	}
	return ""
}

// Stop closes a helper process's stdin, which asks it to exit, and kills
// it if it has not exited 5 s later.
func Stop(cmd *exec.Cmd, stdin io.Closer) {
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
