package cpgipc_test

import (
	"bufio"
	"fmt"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildClient compiles testdata/cpgclient.c against Debian's libcpg.
func buildClient(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc")
	}
	if _, err := os.Stat("/usr/include/corosync/cpg.h"); err != nil {
		t.Skip("needs libcpg-dev")
	}
	bin := filepath.Join(t.TempDir(), "cpgclient")
	if out, err := exec.Command("gcc", "-Wall", "-o", bin, "testdata/cpgclient.c", "-lcpg").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// client is one running cpgclient.
type client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	pid   int
}

func startClient(t *testing.T, ns, bin string, args ...string) *client {
	t.Helper()
	// ip netns exec execs the program, so the pid is the client's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ipctest.Stop(cmd, stdin) })
	c := &client{cmd: cmd, stdin: stdin, lines: make(chan string, 100), pid: cmd.Process.Pid}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

// expect reads the client's next lines and compares them.
func (c *client) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got, ok := <-c.lines:
			if !ok {
				t.Fatalf("client %d exited, want %q", c.pid, w)
			}
			if got != w {
				t.Fatalf("client %d said %q, want %q", c.pid, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d: timed out waiting for %q", c.pid, w)
		}
	}
}

// addrs renders a cpgclient address list: pids of other processes, 0
// for the client's own.
func addrs(self int, entries ...[2]int) string {
	s := ""
	for i, e := range entries {
		pid := e[0]
		if pid == self {
			pid = 0
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("1:%d:%d", pid, e[1])
	}
	return s
}

// TestLibcpgAndCpgtool runs two real libcpg programs and
// corosync-cpgtool against cpgipc on a single-node loopback ring:
// joins, agreed-order delivery (including a message large enough for
// libcpg to split into partial multicasts), confchgs seen by both
// processes, MEMBERSHIP, iteration, leave.
func TestLibcpgAndCpgtool(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cpgtool")
	bin := buildClient(t)
	ns := ipctest.NewNetns(t, "rfcpg")
	ipctest.Start(t, ns, helperEnv+"=server")

	const big = 3000000
	a := startClient(t, ns, bin, "rftest", "3", fmt.Sprint(big))
	a.expect(t,
		"LOCAL nodeid=1",
		"CONFCHG group=rftest members=1:0:0 left= joined=1:0:1",
		"TOTEM ring=1.4 members=1",
		"MEMBERSHIP n=1 list=1:0:0",
		"DELIVER group=rftest from=1:self len=5 data=msg-0",
		"DELIVER group=rftest from=1:self len=5 data=msg-1",
		"DELIVER group=rftest from=1:self len=5 data=msg-2",
		fmt.Sprintf("DELIVER group=rftest from=1:self len=%d data=pattern-ok", big),
		"READY")

	b := startClient(t, ns, bin, "rftest", "2")
	// Members are sorted by (node, pid).
	lo, hi := a.pid, b.pid
	if lo > hi {
		lo, hi = hi, lo
	}
	both := func(self int) string { return addrs(self, [2]int{lo, 0}, [2]int{hi, 0}) }
	b.expect(t,
		"LOCAL nodeid=1",
		"CONFCHG group=rftest members="+both(b.pid)+" left= joined=1:0:1",
		"TOTEM ring=1.4 members=1",
		"MEMBERSHIP n=2 list="+both(b.pid),
		"DELIVER group=rftest from=1:self len=5 data=msg-0",
		"DELIVER group=rftest from=1:self len=5 data=msg-1",
		"READY")
	a.expect(t,
		"CONFCHG group=rftest members="+both(a.pid)+" left= joined="+addrs(a.pid, [2]int{b.pid, 1}),
		"DELIVER group=rftest from=1:other len=5 data=msg-0",
		"DELIVER group=rftest from=1:other len=5 data=msg-1")

	tool := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "corosync-cpgtool"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("corosync-cpgtool %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	row := func(pid int) string { return fmt.Sprintf("\t\t%10d\t%10d (198.18.0.1)\n", pid, 1) }
	wantFull := fmt.Sprintf("Group Name\t%10s\t%10s\nrftest\n", "PID", "Node ID") + row(lo) + row(hi)
	if got := tool(); got != wantFull {
		t.Errorf("corosync-cpgtool:\n%q\nwant\n%q", got, wantFull)
	}
	wantDelim := fmt.Sprintf("GRP_NAME,PID,NODEID\nrftest,%d,1\nrftest,%d,1\n", lo, hi)
	if got := tool("-d", ","); got != wantDelim {
		t.Errorf("corosync-cpgtool -d ,:\n%q\nwant\n%q", got, wantDelim)
	}
	if got := tool("-n"); got != "rftest\n" {
		t.Errorf("corosync-cpgtool -n: %q", got)
	}

	fmt.Fprintln(b.stdin)
	b.expect(t, "CONFCHG group=rftest members="+addrs(b.pid, [2]int{a.pid, 0})+" left=1:0:2 joined=", "DONE")
	a.expect(t, "CONFCHG group=rftest members=1:0:0 left="+addrs(a.pid, [2]int{b.pid, 2})+" joined=")
	fmt.Fprintln(a.stdin)
	a.expect(t, "CONFCHG group=rftest members= left=1:0:2 joined=", "DONE")
	for _, c := range []*client{a, b} {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("client %d: %v", c.pid, err)
		}
	}
	// With both gone the group is empty again.
	if got := tool("-d", ","); got != "GRP_NAME,PID,NODEID\n" {
		t.Errorf("after leave: %q", got)
	}
}
