package vqipc_test

import (
	"errors"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"os/exec"
	"regexp"
	"testing"
)

// runIn runs a tool in namespace ns and returns its output (with the
// Date line normalised) and exit status.
func runIn(t *testing.T, ns string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^Date:  .*$`).ReplaceAllString(string(out), "Date:             DATE"), code
}

const header = "Quorum information\n------------------\nDate:             DATE\nQuorum provider:  corosync_votequorum\n"

func TestQuorumtool(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-quorumtool")
	cases := []struct {
		name      string
		nodes, up int
		args      []string
		want      string
		code      int
	}{
		{"single -s", 1, 1, []string{"-s"}, header + `Nodes:            1
Node ID:          1
Ring ID:          1.4
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   1
Highest expected: 1
Total votes:      1
Quorum:           1  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
`, 0},
		{"three -s", 3, 3, []string{"-s"}, header + `Nodes:            3
Node ID:          1
Ring ID:          1.4
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
         2          1 node2
         3          1 node3
`, 0},
		{"three -l", 3, 3, []string{"-l"}, `
Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
         2          1 node2
         3          1 node3
`, 0},
		{"three -p", 3, 3, []string{"-p"}, header + `Nodes:            3
Node ID:          1
Ring ID:          1.4
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes    Qdevice Name
         1          1         NR node1 (local)
         2          1         NR node2
         3          1         NR node3
`, 0},
		{"minority -s", 3, 1, []string{"-s"}, header + `Nodes:            1
Node ID:          1
Ring ID:          1.4
Quorate:          No

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      1
Quorum:           2 Activity blocked
Flags:            

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
`, 2},
	}
	servers := map[[2]int]string{}
	for _, c := range cases {
		// One server per cluster shape, owned by the parent test.
		key := [2]int{c.nodes, c.up}
		ns, ok := servers[key]
		if !ok {
			ns = startServer(t, c.nodes, c.up)
			servers[key] = ns
		}
		t.Run(c.name, func(t *testing.T) {
			got, code := runIn(t, ns, append([]string{"corosync-quorumtool"}, c.args...)...)
			if got != c.want || code != c.code {
				t.Errorf("corosync-quorumtool %v: exit %d (want %d)\n%s\nwant\n%s", c.args, code, c.code, got, c.want)
			}
		})
	}
}

// TestQuorumtoolSetExpected: -e goes through SETEXPECTED, the machine's
// RECONFIGURE comes back over the loopback, and the minority node turns
// quorate; a value below the votes present is refused.
func TestQuorumtoolSetExpected(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-quorumtool")
	ns := startServer(t, 3, 1)
	if _, code := runIn(t, ns, "corosync-quorumtool", "-s"); code != 2 {
		t.Fatalf("minority node: exit %d, want 2", code)
	}
	if out, code := runIn(t, ns, "corosync-quorumtool", "-e", "1"); code != 0 || out != "" {
		t.Fatalf("-e 1: exit %d %q", code, out)
	}
	out, code := runIn(t, ns, "corosync-quorumtool", "-s")
	want := header + `Nodes:            1
Node ID:          1
Ring ID:          1.4
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   1
Highest expected: 1
Total votes:      1
Quorum:           1  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
`
	if out != want || code != 0 {
		t.Errorf("after -e 1: exit %d\n%s\nwant\n%s", code, out, want)
	}
	// With two votes on node 1, expected 1 is below the votes present.
	if out, code := runIn(t, ns, "corosync-quorumtool", "-v", "2", "-n", "1"); code != 0 {
		t.Fatalf("-v 2 -n 1: exit %d %q", code, out)
	}
	if out, code := runIn(t, ns, "corosync-quorumtool", "-e", "1"); code != 1 || out != "Unable to set expected votes: CS_ERR_INVALID_PARAM\n" {
		t.Errorf("-e 1 below total votes: exit %d %q", code, out)
	}
}
