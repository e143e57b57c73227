package heartbeat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
	"golang.org/x/sys/unix"
)

// capsChildEnv makes TestCapsChild run: it is the engine of node 1 in a
// process the parent test started as an unprivileged user.
const capsChildEnv = "RINGFENCE_HB_CAPS_CHILD"

// capsResult is what the child reports on its standard output.
type capsResult struct {
	UID     int
	Mode    string
	Kernel  bool
	Answers uint64 // answers from node 2 to node 1's probes
	Replied uint64 // node 2's probes the kernel answered
}

// TestCapsChild is not a test of its own: TestNetnsXDPWithCapabilities
// runs it in a child process.
func TestCapsChild(t *testing.T) {
	if os.Getenv(capsChildEnv) != "1" {
		t.Skip("run by TestNetnsXDPWithCapabilities")
	}
	e, err := Open(Config{NodeID: 1, Port: 5407, Grace: time.Second, Links: []LinkConfig{{
		Number: 0, Local: netns.HostAddr(1),
		Peers: []Peer{{NodeID: 1, Addr: netns.HostAddr(1)}, {NodeID: 2, Addr: netns.HostAddr(2)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fmt.Println("READY")
	for range 30 {
		e.Stamp()
		e.Tick()
		time.Sleep(DefaultInterval)
	}
	r := capsResult{UID: os.Getuid(), Mode: e.Mode(), Kernel: e.Kernel()}
	for _, l := range e.Links() {
		if l.Node == 2 {
			r.Answers = l.Answers
		}
	}
	if e.Kernel() {
		if kr, err := e.kernel.Lookup(Key{Node: 2, Link: 0}); err == nil {
			r.Replied = kr.Replied
		}
	}
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
}

// TestNetnsXDPWithCapabilities runs node 1's engine as the unprivileged
// user nobody: with the capabilities CAP_BPF and CAP_NET_ADMIN only, the
// XDP program loads and attaches, answers node 2's probes in the kernel
// and records node 2's answers; with no capabilities the engine falls
// back to userspace and says why.
func TestNetnsXDPWithCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces and start a process as another user")
	}
	c := netns.NewCluster(t, 2, netns.Options{})
	var why string
	if err := c.Hosts[0].Do(func() error {
		e, err := Open(Config{NodeID: 1, Port: 5407, Links: []LinkConfig{{Local: netns.HostAddr(1), Peers: []Peer{{NodeID: 2, Addr: netns.HostAddr(2)}}}}})
		if err != nil {
			return err
		}
		if !e.Kernel() {
			why = e.Mode()
		}
		return e.Close()
	}); err != nil {
		t.Fatal(err)
	}
	if why != "" {
		t.Skipf("XDP responder not available even to root: %s", why)
	}
	// The test binary, where nobody may run it.
	dir, err := os.MkdirTemp("", "rfcaps")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "heartbeat.test")
	if err := copyExecutable(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	for _, tc := range []struct {
		name string
		caps []uintptr
	}{
		{"CAP_BPF+CAP_NET_ADMIN", []uintptr{unix.CAP_BPF, unix.CAP_NET_ADMIN}},
		{"no capabilities", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := openOn(t, c.Hosts[1], 2, c.Hosts, true)
			peer.SetWide(true) // probe node 1 every interval
			var out bytes.Buffer
			cmd := exec.Command(bin, "-test.run=^TestCapsChild$", "-test.v")
			cmd.Env = append(os.Environ(), capsChildEnv+"=1")
			cmd.Dir = dir
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Credential:  &syscall.Credential{Uid: nobody, Gid: nobody},
				AmbientCaps: tc.caps,
			}
			// Forked from a thread inside host 1's namespace.
			if err := c.Hosts[0].Do(cmd.Start); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var werr error
		tick:
			for {
				select {
				case werr = <-done:
					break tick
				case <-time.After(DefaultInterval):
					peer.Stamp()
					peer.Tick()
				}
			}
			if werr != nil {
				t.Fatalf("child: %v\n%s", werr, out.String())
			}
			_, res, ok := strings.Cut(out.String(), "RESULT ")
			var r capsResult
			if !ok || json.Unmarshal([]byte(strings.SplitN(res, "\n", 2)[0]), &r) != nil {
				t.Fatalf("no result from the child:\n%s", out.String())
			}
			t.Logf("%s: uid %d, mode %q, answers %d, answered in the kernel %d", tc.name, r.UID, r.Mode, r.Answers, r.Replied)
			if r.UID != nobody {
				t.Fatalf("child ran as uid %d", r.UID)
			}
			if r.Answers == 0 {
				t.Errorf("node 1 recorded no answers from node 2")
			}
			if tc.caps != nil {
				if !r.Kernel || !strings.Contains(r.Mode, "XDP") || r.Replied == 0 {
					t.Fatalf("with CAP_BPF and CAP_NET_ADMIN: kernel %v, mode %q, %d probes answered in the kernel", r.Kernel, r.Mode, r.Replied)
				}
				return
			}
			if r.Kernel || !strings.Contains(r.Mode, "userspace") || !strings.Contains(r.Mode, "needs CAP_BPF and CAP_NET_ADMIN") {
				t.Fatalf("without capabilities: kernel %v, mode %q; want the userspace path and the reason", r.Kernel, r.Mode)
			}
		})
	}
}

func copyExecutable(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
