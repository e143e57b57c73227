package cpgclient_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cpg/cpgclient"
	"github.com/ringfence/ringfence/tools/netns"
)

// TestCorosyncThreeNodes runs the same exercise against Debian's
// corosync 3.1.7 on three network namespaces: the client dials from
// inside each host's namespace (abstract sockets are per namespace; the
// shared-memory files are in the common /dev/shm).
func TestCorosyncThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts corosync in network namespaces")
	}
	if _, err := exec.LookPath("corosync"); err != nil {
		t.Skip("needs corosync (Debian package corosync)")
	}
	if _, err := exec.LookPath("corosync-cmapctl"); err != nil {
		t.Skip("needs corosync-cmapctl")
	}
	c := netns.NewCluster(t, 3, netns.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, _, _, err := c.StartRing(ctx, netns.CorosyncOptions{Daemon: []string{"corosync"}}); err != nil {
		t.Fatal(err)
	}
	var rs []*recorder
	for i, h := range c.Hosts {
		rs = append(rs, dial(t, cpgclient.Options{PID: uint32(2000 + i)}, h.Do))
	}
	exercise(t, rs, []uint32{1, 2, 3})
}
