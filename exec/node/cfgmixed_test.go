package node

import (
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// TestNetnsCfgMixed: the cfg exec messages cross between corosync and
// ringfenced on one ring (corosync on host 1, ringfenced on 2 and 3).
// corosync-cfgtool -R on the corosync node makes the ringfenced nodes
// reload (and -R on a ringfenced node makes corosync reload); -k from
// corosync kills a ringfenced node and -k from ringfenced kills the
// corosync node, each exiting with status 255 as Corosync does.
func TestNetnsCfgMixed(t *testing.T) {
	if _, err := osexec.LookPath("corosync-cfgtool"); err != nil {
		t.Skip("needs corosync-cfgtool (Debian package corosync)")
	}
	c, conf, _, procs := startMixed(t, 1)
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	get := func(h *netns.Host, key string) string {
		out, _ := h.Run(ctx, "corosync-cmapctl", "-g", key)
		return strings.TrimSpace(out)
	}

	// -R from corosync: the ringfenced nodes take the new token.
	if err := os.WriteFile(conf, []byte(c.CorosyncConf(netns.CorosyncOptions{Token: 2000})), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := h1.Run(ctx, "corosync-cfgtool", "-R"); err != nil {
		t.Fatalf("-R on corosync: %v\n%s", err, out)
	}
	for _, h := range []*netns.Host{h1, h2, h3} {
		if got := get(h, "runtime.config.totem.token"); got != "runtime.config.totem.token (u32) = 2650" {
			t.Errorf("node %d after -R from corosync: %q", h.Index, got)
		}
	}
	waitLog(t, procs[1], "Config reload requested by node 1", 5*time.Second)

	// -R from ringfenced: corosync reloads too.
	if err := os.WriteFile(conf, []byte(c.CorosyncConf(netns.CorosyncOptions{Token: 3000})), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := h3.Run(ctx, "corosync-cfgtool", "-R"); err != nil || !strings.Contains(out, "Done") {
		t.Fatalf("-R on ringfenced: %v\n%s", err, out)
	}
	for _, h := range []*netns.Host{h1, h2, h3} {
		if got := get(h, "totem.token"); got != "totem.token (u32) = 3000" {
			t.Errorf("node %d after -R from ringfenced: %q", h.Index, got)
		}
	}
	waitLog(t, procs[0], "Config reload requested by node 3", 5*time.Second)

	// -k from corosync kills ringfenced node 2; -k from ringfenced node 3
	// kills corosync node 1.
	wantKilled := func(p *netns.Proc, by string) {
		t.Helper()
		select {
		case <-p.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("%s still runs after -k", p.LogPath)
		}
		var ee *osexec.ExitError
		if err := p.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 255 {
			t.Errorf("%s: exit %v, want status 255", p.LogPath, err)
		}
		if !strings.Contains(readLog(t, p), "Killed by node "+by+" : ") {
			t.Errorf("%s does not say who killed it:\n%s", p.LogPath, readLog(t, p))
		}
	}
	if out, err := h1.Run(ctx, "corosync-cfgtool", "-k", "2"); err != nil {
		t.Fatalf("-k 2 on corosync: %v\n%s", err, out)
	}
	wantKilled(procs[1], "1")
	waitHost(t, h3, time.Now(), []uint32{1, 3}, 30*time.Second)
	if out, err := h3.Run(ctx, "corosync-cfgtool", "-k", "1"); err != nil {
		t.Fatalf("-k 1 on ringfenced: %v\n%s", err, out)
	}
	wantKilled(procs[0], "3")
	waitHost(t, h3, time.Now(), []uint32{3}, 30*time.Second)
}
