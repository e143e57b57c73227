package node

import (
	"context"
	"net/netip"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/tools/netns"
)

// ringfenceCLI builds tools/ringfence next to the daemon binary.
func ringfenceCLI(t *testing.T) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(daemonBinary(t)), "ringfence")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if b, err := osexec.Command("go", "build", "-o", out, "github.com/ringfence/ringfence/tools/ringfence").CombinedOutput(); err != nil {
		t.Fatalf("go build tools/ringfence: %v\n%s", err, b)
	}
	return out
}

func TestHeartbeatSettings(t *testing.T) {
	local := netip.MustParseAddr("127.0.0.1")
	parse := func(extra string) (HeartbeatSettings, error) {
		cfg := parseFor(t, loopbackConf(3, 6000, 1000)+extra, local)
		s, err := SettingsFromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return heartbeatSettings(cfg, s)
	}
	t.Setenv(hbEnv, "")
	h, err := parse("")
	if err != nil || h.Mode != "on" || h.Port != 6002 || h.Interval != 50*time.Millisecond || h.Misses != 4 {
		t.Fatalf("defaults %+v %v", h, err)
	}
	h, err = parse("ringfence {\n\theartbeat: userspace\n\theartbeat_port: 7000\n\theartbeat_interval: 20\n\theartbeat_misses: 6\n}\n")
	if err != nil || h.Mode != "userspace" || h.Port != 7000 || h.Interval != 20*time.Millisecond || h.Misses != 6 {
		t.Fatalf("section %+v %v", h, err)
	}
	for _, bad := range []string{"heartbeat: maybe", "heartbeat_port: 0", "heartbeat_interval: x", "heartbeat_misses: 1"} {
		if _, err := parse("ringfence {\n\t" + bad + "\n}\n"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	t.Setenv(hbEnv, "off")
	if h, err := parse("ringfence {\n\theartbeat: on\n}\n"); err != nil || h.Mode != "off" {
		t.Fatalf("env override: %+v %v", h, err)
	}
}

// Three loopback nodes run the userspace heartbeat when asked to (it is
// off on loopback by default, and loopback never gets the XDP program)
// and publish its figures in cmap.
func TestHeartbeatLoopbackPublishes(t *testing.T) {
	t.Setenv(hbEnv, "userspace")
	text := loopbackConf(3, 6110, 1000)
	dir := t.TempDir()
	var nodes []*testNode
	for id := 1; id <= 3; id++ {
		nodes = append(nodes, startNode(t, text, id, dir+"/"+string(rune('0'+id))))
	}
	deadline := time.Now().Add(20 * time.Second)
	var rtt uint64
	for time.Now().Before(deadline) {
		_ = nodes[0].n.Do(context.Background(), func() {
			rtt, _ = nodes[0].n.Store().GetUint64("runtime.heartbeat.2.link0.rtt_us")
			if v, err := nodes[0].n.Store().GetUint8("runtime.heartbeat.3.link0.ringfenced"); err != nil || v != 1 {
				rtt = 0
			}
		})
		if rtt > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rtt == 0 {
		t.Fatalf("no heartbeat figures in cmap:\n%s", nodes[0].log.String())
	}
	if log := nodes[0].log.String(); !strings.Contains(log, "heartbeat: port 6112") || !strings.Contains(log, "answered by userspace") {
		t.Fatalf("no start-up line naming the path:\n%s", log)
	}
}

// A SIGKILLed node whose link goes down leaves the membership through the
// heartbeat, well before its token (3 s here) could expire.
func TestNetnsHeartbeatKill(t *testing.T) {
	c, procs, ctx := hbRing(t, "")
	waitLog(t, procs[0], "heartbeat: port 5407", 5*time.Second)
	mode := readLog(t, procs[0])
	t.Logf("%s", mode[strings.Index(mode, "heartbeat: port"):][:strings.Index(mode[strings.Index(mode, "heartbeat: port"):], "\n")])
	time.Sleep(500 * time.Millisecond) // a few answered probes: node 3 counts as ringfenced
	// ringfence netmon on node 1 shows both peers answering, from the
	// figures the daemon publishes in cmap.
	var table string
	var err error
	for i := 0; i < 40 && strings.Count(table, " up") < 2; i++ {
		time.Sleep(100 * time.Millisecond)
		table, err = c.Hosts[0].Run(ctx, ringfenceCLI(t), "netmon")
	}
	t.Logf("ringfence netmon on node 1:\n%s", table)
	if !strings.Contains(table, "198.18.0.2") || !strings.Contains(table, "198.18.0.3") || strings.Count(table, " up") != 2 || !strings.Contains(table, "answered by kernel") {
		t.Fatalf("netmon table: %v\n%s", err, table)
	}
	start := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hosts[2].Cut(); err != nil {
		t.Fatal(err)
	}
	d := waitHost(t, c.Hosts[0], start, []uint32{1, 2}, 30*time.Second)
	t.Logf("SIGKILL + link down: new membership seen on node 1 after %v", d)
	// Token 3000 with 3 nodes is 3650 ms before the token is even
	// declared lost; anything below it came from the heartbeat.
	if d >= 3*time.Second {
		t.Fatalf("membership changed after %v: the heartbeat did not act", d)
	}
	hbActed(t, procs)
	if os.Getenv("RINGFENCE_HEARTBEAT") != "" {
		t.Fatal("environment leaked")
	}
}

// TestReloadChangesHeartbeatGrace: the heartbeat answers for as long as
// the token tolerates a stalled daemon, so a reload that changes the token
// must change the heartbeat's grace too, not leave the start-up value.
func TestReloadChangesHeartbeatGrace(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a one-node ring on loopback")
	}
	t.Setenv(hbEnv, "userspace")
	port := netns.FreeLoopbackPort(t, 3)
	path := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(path, []byte(loopbackConf(1, port, 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, loopbackConf(1, port, 300), 1, t.TempDir())
	tn.n.opts.Config.Path = path
	waitRing(t, []*testNode{tn}, []uint32{1}, 15*time.Second)
	grace := func() time.Duration {
		var g time.Duration
		if err := tn.n.Do(context.Background(), func() {
			if tn.n.hb != nil {
				g = tn.n.hb.eng.Grace()
			}
		}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := grace(); g != 300*time.Millisecond {
		t.Fatalf("start-up grace %v, want the token timeout 300ms\n%s", g, tn.log.String())
	}
	if err := os.WriteFile(path, []byte(loopbackConf(1, port, 2500)), 0o644); err != nil {
		t.Fatal(err)
	}
	var res ipc.CsError
	if err := tn.n.Do(context.Background(), func() { res = tn.n.reloadConfig() }); err != nil {
		t.Fatal(err)
	}
	if g := grace(); res != ipc.CsOK || g != 2500*time.Millisecond {
		t.Fatalf("after reload: %v, grace %v; want CS_OK and 2.5s\n%s", res, g, tn.log.String())
	}
}

// TestNetnsHeartbeatUserspaceStop: without BPF the responder process
// plays the XDP program's part. A daemon SIGSTOPped for 2 s with token
// 3000 keeps being answered for (its stamp is younger than the grace),
// so the membership does not change; a SIGKILLed one takes its responder
// with it and leaves through the heartbeat, well before the token.
func TestNetnsHeartbeatUserspaceStop(t *testing.T) {
	c, procs, ctx := hbRing(t, "userspace")
	waitLog(t, procs[2], "answered by userspace (responder process", 5*time.Second)
	time.Sleep(time.Second) // answered probes: node 3 counts as ringfenced
	before, err := c.Hosts[0].StatsCounter(ctx, "stats.srp.operational_entered")
	if err != nil {
		t.Fatal(err)
	}
	if err := procs[2].Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := procs[2].Cont(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // longer than token + consensus would take to show
	after, err := c.Hosts[0].StatsCounter(ctx, "stats.srp.operational_entered")
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("SIGSTOP 2 s with token 3000 changed the membership (operational_entered %d -> %d)\n%s", before, after, readLog(t, procs[0]))
	}
	start := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	d := waitHost(t, c.Hosts[0], start, []uint32{1, 2}, 30*time.Second)
	t.Logf("SIGKILL alone (link up): new membership seen on node 1 after %v", d)
	if d >= 3*time.Second {
		t.Fatalf("membership changed after %v: the responder outlived its daemon", d)
	}
	hbActed(t, procs)
}

// hbRing forms a 3-daemon ring, token 3000, with RINGFENCE_HEARTBEAT set
// to mode ("" = the default).
func hbRing(t *testing.T, mode string) (*netns.Cluster, []*netns.Proc, context.Context) {
	t.Helper()
	needCmapctl(t)
	t.Setenv(hbEnv, mode)
	c := netns.NewCluster(t, 3, netns.Options{})
	bin := daemonBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	_, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 3000, Daemon: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	return c, procs, ctx
}

// hbActed checks that a survivor's heartbeat reported node 3. The
// survivor whose detector fired first started the change; the other may
// have followed its join before its own detector fired.
func hbActed(t *testing.T, procs []*netns.Proc) {
	t.Helper()
	const acted = "heartbeat: node 3 unreachable on every link"
	if !strings.Contains(readLog(t, procs[0]), acted) && !strings.Contains(readLog(t, procs[1]), acted) {
		t.Fatalf("no survivor logged %q", acted)
	}
}
