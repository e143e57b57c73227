package node

import (
	"context"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsPacemakerOnRingfenced starts Debian's Pacemaker 2.1 on three
// ringfenced nodes and waits until crm_mon shows every node online: the
// cpg, cmap, quorum and cfg IPC a real cluster stack needs.
func TestNetnsPacemakerOnRingfenced(t *testing.T) {
	needCmapctl(t)
	for _, c := range []string{"pacemakerd", "crm_mon"} {
		if _, err := osexec.LookPath(c); err != nil {
			t.Skipf("needs %s (Debian package pacemaker)", c)
		}
	}
	if testing.Short() {
		t.Skip("starts Pacemaker (slow)")
	}
	c := netns.NewCluster(t, 3, netns.Options{ExtraTmpfs: []string{"/var/lib/pacemaker", "/var/log/pacemaker"}})
	bin := daemonBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	if _, _, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Daemon: []string{bin}}); err != nil {
		t.Fatal(err)
	}
	var pms []*netns.Proc
	for _, h := range c.Hosts {
		if _, err := h.Run(ctx, "sh", "-c", "mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /var/log/pacemaker && chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker"); err != nil {
			t.Fatal(err)
		}
		p, err := h.Start("pacemaker", "env", "PCMK_logfile=/dev/stderr", "PCMK_debug=no", "pacemakerd", "-f")
		if err != nil {
			t.Fatal(err)
		}
		pms = append(pms, p)
	}
	var out string
	for ctx.Err() == nil {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		out, _ = c.Hosts[0].Run(cctx, "crm_mon", "-1")
		ccancel()
		if strings.Contains(out, "Online: [ node1 node2 node3 ]") {
			t.Logf("crm_mon -1 on node 1:\n%s", out)
			return
		}
		time.Sleep(time.Second)
	}
	for _, p := range pms {
		b, _ := os.ReadFile(p.LogPath)
		t.Logf("%s:\n%s", p.LogPath, grepLines(string(b), "corosync", "cpg", "quorum", "Quorum", "CPG", "cmap", "error", "membership"))
	}
	t.Fatalf("Pacemaker did not see all three nodes online; last crm_mon:\n%s", out)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return tail(strings.Join(out, "\n"), 40)
}
