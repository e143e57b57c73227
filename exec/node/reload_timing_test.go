package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/tools/netns"
)

// TestReloadChangesRunningTiming: corosync-cfgtool -R with a new token
// reaches the running srp, not only runtime.config.totem.token in cmap.
func TestReloadChangesRunningTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a one-node ring on loopback")
	}
	port := netns.FreeLoopbackPort(t, 1)
	path := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(path, []byte(loopbackConf(1, port, 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, loopbackConf(1, port, 300), 1, t.TempDir())
	tn.n.opts.Config.Path = path // read only by reloadConfig, on the loop
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	if err := os.WriteFile(path, []byte(loopbackConf(1, port, 2500)), 0o644); err != nil {
		t.Fatal(err)
	}
	var res ipc.CsError
	var token, cmapToken time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tn.n.Do(ctx, func() {
		res = tn.n.reloadConfig()
		token = tn.n.srp.Timing().Token
		v, _ := tn.n.store.GetUint32("runtime.config.totem.token")
		cmapToken = time.Duration(v) * time.Millisecond
	}); err != nil {
		t.Fatal(err)
	}
	if res != ipc.CsOK || token != 2500*time.Millisecond || cmapToken != token {
		t.Fatalf("reload: %v, srp token %v, runtime.config.totem.token %v; want CS_OK and 2.5s in both\n%s", res, token, cmapToken, tn.log.String())
	}
}
