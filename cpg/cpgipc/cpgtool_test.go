package cpgipc_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// readLine reads one line of the client's output with a deadline.
func readLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("client exited early")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the client")
	}
	return ""
}

// TestLibcpgAndCpgtool runs a real libcpg program and corosync-cpgtool
// against cpgipc on a single-node loopback ring.
func TestLibcpgAndCpgtool(t *testing.T) {
	needTools(t, "corosync-cpgtool")
	bin := buildClient(t)
	ns := newNetns(t)
	startNsServer(t, ns)

	const msgs = 5
	client := exec.Command("ip", "netns", "exec", ns, bin, "rftest", fmt.Sprint(msgs))
	stdin, _ := client.StdinPipe()
	stdout, _ := client.StdoutPipe()
	client.Stderr = os.Stderr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCmd(client, stdin) })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The client prints other processes' pids, its own as 0 / "self".
	want := []string{
		"LOCAL nodeid=1",
		"CONFCHG group=rftest members=1:0:0 left= joined=1:0:1",
		"TOTEM ring=1.4 members=1",
		"MEMBERSHIP n=1 list=1:0:0",
	}
	for i := range msgs {
		want = append(want, fmt.Sprintf("DELIVER group=rftest from=1:self len=5 data=msg-%d", i))
	}
	want = append(want, "READY")
	for _, w := range want {
		if got := readLine(t, lines); got != w {
			t.Fatalf("client said %q, want %q", got, w)
		}
	}
	pid := client.Process.Pid
	// ip netns exec execs the client, so the pid is the client's.
	tool := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "corosync-cpgtool"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("corosync-cpgtool %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	wantFull := fmt.Sprintf("Group Name\t%10s\t%10s\nrftest\n\t\t%10d\t%10d (198.18.0.1)\n", "PID", "Node ID", pid, 1)
	if got := tool(); got != wantFull {
		t.Errorf("corosync-cpgtool:\n%q\nwant\n%q", got, wantFull)
	}
	wantDelim := fmt.Sprintf("GRP_NAME,PID,NODEID\nrftest,%d,1\n", pid)
	if got := tool("-d", ","); got != wantDelim {
		t.Errorf("corosync-cpgtool -d ,:\n%q\nwant\n%q", got, wantDelim)
	}
	if got := tool("-n"); got != "rftest\n" {
		t.Errorf("corosync-cpgtool -n: %q", got)
	}

	fmt.Fprintln(stdin)
	for _, w := range []string{"CONFCHG group=rftest members= left=1:0:2 joined=", "DONE"} {
		if got := readLine(t, lines); got != w {
			t.Fatalf("client said %q, want %q", got, w)
		}
	}
	if err := client.Wait(); err != nil {
		t.Fatalf("client: %v", err)
	}
	// With the client gone the group is empty again.
	if got := tool("-d", ","); got != "GRP_NAME,PID,NODEID\n" {
		t.Errorf("after leave: %q", strings.TrimSpace(got))
	}
}
