package votequorum

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// liveCluster is a set of real corosync 3.1.7 daemons, one per network
// namespace, plugged into a switch namespace with two bridges. Moving a
// node's switch port from one bridge to the other partitions the cluster.
type liveCluster struct {
	t     *testing.T
	sw    string
	nodes map[int]string // node id -> namespace
}

func liveNeeds(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("live corosync test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "corosync", "corosync-quorumtool", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package corosync)", tool)
		}
	}
}

func (c *liveCluster) ip(args ...string) {
	c.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		c.t.Fatalf("ip %v: %v %s", args, err, out)
	}
}

func newLiveCluster(t *testing.T, ids []int, quorumConf string) *liveCluster {
	tag := fmt.Sprintf("%d", os.Getpid()%100000)
	c := &liveCluster{t: t, sw: "rfvqsw" + tag, nodes: map[int]string{}}
	if out, err := exec.Command("ip", "netns", "add", c.sw).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", c.sw).Run() })
	for _, br := range []string{"br0", "br1"} {
		c.ip("-n", c.sw, "link", "add", br, "type", "bridge")
		c.ip("-n", c.sw, "link", "set", br, "up")
	}
	var nodelist strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&nodelist, "\tnode {\n\t\tname: n%d\n\t\tnodeid: %d\n\t\tring0_addr: 198.18.7.%d\n\t}\n", id, id, id)
	}
	dir := t.TempDir()
	for _, id := range ids {
		ns := fmt.Sprintf("rfvq%d-%s", id, tag)
		c.nodes[id] = ns
		c.ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		port := fmt.Sprintf("p%d", id)
		c.ip("-n", c.sw, "link", "add", port, "type", "veth", "peer", "name", "e0", "netns", ns)
		c.ip("-n", c.sw, "link", "set", port, "master", "br0")
		c.ip("-n", c.sw, "link", "set", port, "up")
		c.ip("-n", ns, "addr", "add", fmt.Sprintf("198.18.7.%d/24", id), "dev", "e0")
		c.ip("-n", ns, "link", "set", "e0", "up")
		c.ip("-n", ns, "link", "set", "lo", "up")

		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", id))
		text := "totem {\n\tversion: 2\n\tcluster_name: rfvq\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n\ttoken: 1000\n}\n" +
			"logging {\n\tto_stderr: yes\n\tto_syslog: no\n\tto_logfile: no\n\ttimestamp: on\n}\n" +
			"quorum {\n\tprovider: corosync_votequorum\n" + quorumConf + "}\n" +
			"nodelist {\n" + nodelist.String() + "}\n"
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var logBuf bytes.Buffer
		cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c",
			"mount -t tmpfs none /run && mkdir -p /run/lock && mount -t tmpfs none /var/lib/corosync && exec corosync -f -c "+conf)
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("corosync n%d log:\n%s", id, logBuf.String())
			}
		})
	}
	return c
}

var (
	reQuorate = regexp.MustCompile(`(?m)^Quorate:\s+(Yes|No)$`)
	reNodes   = regexp.MustCompile(`(?m)^Nodes:\s+(\d+)$`)
)

// status returns node id's "Nodes:" count and quorate flag from
// corosync-quorumtool -s (exit status 2 just means not quorate).
func (c *liveCluster) status(id int) (nodes int, quorate bool, ok bool) {
	out, _ := exec.Command("ip", "netns", "exec", c.nodes[id], "corosync-quorumtool", "-s").Output()
	q := reQuorate.FindSubmatch(out)
	n := reNodes.FindSubmatch(out)
	if q == nil || n == nil {
		return 0, false, false
	}
	fmt.Sscanf(string(n[1]), "%d", &nodes)
	return nodes, string(q[1]) == "Yes", true
}

// waitNodes waits until every listed node sees the given member count.
func (c *liveCluster) waitNodes(want map[int]int) {
	c.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		good := true
		for id, n := range want {
			if got, _, ok := c.status(id); !ok || got != n {
				good = false
			}
		}
		if good {
			// let the sync finish everywhere
			time.Sleep(2 * time.Second)
			return
		}
		if time.Now().After(deadline) {
			var s []string
			for id := range want {
				n, q, ok := c.status(id)
				s = append(s, fmt.Sprintf("n%d nodes=%d quorate=%v ok=%v", id, n, q, ok))
			}
			c.t.Fatalf("membership did not settle to %v: %v", want, s)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (c *liveCluster) move(id int, bridge string) {
	c.ip("-n", c.sw, "link", "set", fmt.Sprintf("p%d", id), "master", bridge)
}

// TestLiveATBHazard runs atb_hazard.txt's partition sequence on real
// corosync daemons and compares every node's quorate flag with the model.
func TestLiveATBHazard(t *testing.T) {
	liveNeeds(t)
	ids := []int{1, 2, 3, 4}
	live := newLiveCluster(t, ids, "\tauto_tie_breaker: 1\n\twait_for_all: 1\n")
	live.waitNodes(map[int]int{1: 4, 2: 4, 3: 4, 4: 4})

	model := newCluster(t)
	for _, cmd := range []string{"config nodes=1,2,3,4 atb=1 wait_for_all=1", "start 1 2 3 4", "partition 1 2 3 4"} {
		f := strings.Fields(cmd)
		if err := model.run(f[0], f[1:]); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(step string) {
		t.Helper()
		for _, id := range ids {
			_, q, ok := live.status(id)
			if !ok {
				t.Fatalf("%s: no status from n%d", step, id)
			}
			if mq := model.nodes[uint32(id)].m.Quorate(); mq != q {
				t.Errorf("%s: n%d quorate: corosync %v, model %v", step, id, q, mq)
			} else {
				t.Logf("%s: n%d quorate=%v (both)", step, id, q)
			}
		}
	}
	compare("1 2 3 4")

	live.move(1, "br1")
	live.waitNodes(map[int]int{1: 1, 2: 3, 3: 3, 4: 3})
	model.run("partition", strings.Fields("1 | 2 3 4"))
	compare("1 | 2 3 4")

	live.move(3, "br1")
	live.waitNodes(map[int]int{1: 2, 2: 2, 3: 2, 4: 2})
	model.run("partition", strings.Fields("1 3 | 2 4"))
	compare("1 3 | 2 4")
}
