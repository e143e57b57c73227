package cfgipc_test

import (
	"errors"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"os/exec"
	"testing"
)

func (s *server) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", s.ns}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestCfgtool compares corosync-cfgtool's output against what Corosync
// 3.1.7 prints for a udpu node (tools/corosync-cfgtool.c formats; udpu
// reports each member's own address as the link source).
func TestCfgtool(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cfgtool")
	cases := []struct {
		name      string
		nodes, up int
		args      []string
		want      string
	}{
		{"single -s", 1, 1, []string{"-s"}, "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 198.18.0.1\n\tstatus:\n\t\tnodeid:          1:\tlocalhost\n"},
		{"three -s", 3, 3, []string{"-s"}, "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 198.18.0.3\n\tstatus:\n" +
			"\t\tnodeid:          1:\tlocalhost\n\t\tnodeid:          2:\tconnected\n\t\tnodeid:          3:\tconnected\n"},
		{"three -n", 3, 3, []string{"-n"}, "Local node ID 1, transport udpu\n" +
			"nodeid: 2 reachable\n   LINK: 0  (198.18.0.2) enabled connected mtu: 1410\n\n" +
			"nodeid: 3 reachable\n   LINK: 0  (198.18.0.3) enabled connected mtu: 1410\n\n"},
		{"partial -s", 3, 2, []string{"-s"}, "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 198.18.0.3\n\tstatus:\n" +
			"\t\tnodeid:          1:\tlocalhost\n\t\tnodeid:          2:\tconnected\n\t\tnodeid:          3:\tdisconnected\n"},
		{"partial -n", 3, 2, []string{"-n"}, "Local node ID 1, transport udpu\n" +
			"nodeid: 2 reachable\n   LINK: 0  (198.18.0.2) enabled connected mtu: 1410\n\n"},
		{"three -a 2", 3, 3, []string{"-a", "2"}, "198.18.0.2\n"},
		{"partial -a 3", 3, 2, []string{"-a", "3"}, "198.18.0.3\n"},
		{"partial -b", 3, 2, []string{"-s", "-b"}, "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 198.18.0.3\n\tstatus\t= n31\n"},
	}
	servers := map[[2]int]*server{}
	for _, c := range cases {
		key := [2]int{c.nodes, c.up}
		s := servers[key]
		if s == nil {
			s = startServer(t, c.nodes, c.up)
			servers[key] = s
		}
		t.Run(c.name, func(t *testing.T) {
			got, code := s.run(t, append([]string{"corosync-cfgtool"}, c.args...)...)
			if got != c.want || code != 0 {
				t.Errorf("corosync-cfgtool %v: exit %d\n%q\nwant\n%q", c.args, code, got, c.want)
			}
		})
	}
}

// TestCfgtoolReloadAndShutdown checks that -R and -H reach the daemon's
// callbacks (no trackers: the shutdown is agreed at once).
func TestCfgtoolReloadAndShutdown(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cfgtool")
	s := startServer(t, 1, 1)
	if got, code := s.run(t, "corosync-cfgtool", "-R"); got != "Reloading corosync.conf...\nDone\n" || code != 0 {
		t.Errorf("-R: exit %d %q", code, got)
	}
	if l := s.line(t); l != "RELOAD" {
		t.Errorf("reload callback: %q", l)
	}
	if got, code := s.run(t, "corosync-cfgtool", "-H", "--force"); got != "Shutting down corosync\n" || code != 0 {
		t.Errorf("-H --force: exit %d %q", code, got)
	}
	if l := s.line(t); l != "SHUTDOWN 1" {
		t.Errorf("shutdown callback: %q", l)
	}
}

// TestCfgtoolUnknownNode: -a for a node outside the nodelist fails the
// way Corosync's does (GET_NODE_ADDRS answers CS_ERR_NOT_EXIST).
func TestCfgtoolUnknownNode(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cfgtool")
	s := startServer(t, 1, 1)
	if got, code := s.run(t, "corosync-cfgtool", "-a", "9"); got != "Could not get node address for nodeid 9\n" || code != 1 {
		t.Errorf("-a 9: exit %d %q", code, got)
	}
}
