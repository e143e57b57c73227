package cmapsvc_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
	"github.com/ringfence/ringfence/ipc/ipctest"
)

const corosyncConf = `totem {
	version: 2
	cluster_name: rfipc
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
	token: 3000
}
logging {
	to_stderr: yes
	to_syslog: no
	to_logfile: no
}
quorum {
	provider: corosync_votequorum
}
nodelist {
	node {
		name: node1
		nodeid: 1
		ring0_addr: 198.18.0.1
	}
}
`

// dialRetry waits for corosync to open its IPC (EAGAIN until the first
// sync completes, ECONNREFUSED before it listens).
func dialRetry(m int) (*cmapsvc.Client, error) {
	var err error
	for range 100 {
		var c *cmapsvc.Client
		if c, err = cmapsvc.Dial(m); err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, err
}

// runCorosyncClient is the helper side: our Go client against the real
// daemon. It prints a cmapctl-format dump of what it read, then "OK".
func runCorosyncClient() int {
	fail := func(f string, a ...any) int { fmt.Printf("FAIL "+f+"\n", a...); return 1 }
	c, err := dialRetry(0)
	if err != nil {
		return fail("dial: %v", err)
	}
	defer c.Close()
	keys, err := c.Iter("")
	if err != nil {
		return fail("iter: %v", err)
	}
	var entries []cmap.Entry
	for _, k := range keys {
		v, err := c.Get(k.Key)
		if err != nil {
			return fail("get %s: %v", k.Key, err)
		}
		if v.Type != k.Type || uint64(v.Len()) != k.Len {
			return fail("%s: iter says %v/%d, get says %v/%d", k.Key, k.Type, k.Len, v.Type, v.Len())
		}
		entries = append(entries, cmap.Entry{Key: k.Key, Value: v})
	}
	cmap.Dump(os.Stdout, entries, false)
	// Writes, tracking and errors against the real icmap.
	h, err := c.TrackAdd("ringfence.", cmap.TrackPrefix|cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete, 42)
	if err != nil {
		return fail("track: %v", err)
	}
	if err := c.Set("ringfence.test", cmap.U32(5)); err != nil {
		return fail("set: %v", err)
	}
	if err := c.AdjustInt("ringfence.test", 2); err != nil {
		return fail("adjust: %v", err)
	}
	if v, err := c.Get("ringfence.test"); err != nil || !v.Equal(cmap.U32(7)) {
		return fail("get after set: %v %v", v, err)
	}
	if err := c.Delete("ringfence.test"); err != nil {
		return fail("delete: %v", err)
	}
	for i, want := range []cmap.EventKind{cmap.EventAdd, cmap.EventModify, cmap.EventDelete} {
		inst, ev, err := c.ReadNotify(5 * time.Second)
		if err != nil || inst != 42 || ev.Kind != want || ev.Key != "ringfence.test" {
			return fail("notify %d: %d %+v %v", i, inst, ev, err)
		}
	}
	if _, err := c.TrackDelete(h); err != nil {
		return fail("track delete: %v", err)
	}
	if err := c.Set("runtime.config.totem.token", cmap.U32(1)); err == nil || err.Error() != "CS_ERR_ACCESS" {
		return fail("read-only set: %v", err)
	}
	if _, err := c.Get("no.such.key"); err == nil || err.Error() != "CS_ERR_NOT_EXIST" {
		return fail("missing key: %v", err)
	}
	st, err := dialRetry(1)
	if err != nil {
		return fail("stats map: %v", err)
	}
	defer st.Close()
	if k, err := st.Iter("stats.srp."); err != nil || len(k) == 0 {
		return fail("stats iter: %d keys, %v", len(k), err)
	}
	fmt.Println("OK")
	return 0
}

// startCorosync runs a single-node udpu corosync 3.1.7 in a fresh
// network namespace with private /run and /var/lib/corosync.
func startCorosync(t testing.TB) string {
	t.Helper()
	ipctest.NeedRoot(t, "corosync", "corosync-cmapctl", "unshare")
	ns := ipctest.NewNetns(t, "rfipc")
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"addr", "add", "198.18.0.1/32", "dev", "lo"}} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "ip"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	conf := filepath.Join(t.TempDir(), "corosync.conf")
	os.WriteFile(conf, []byte(corosyncConf), 0o644)
	var coroLog bytes.Buffer
	coro := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c",
		"mount -t tmpfs none /run && mkdir -p /run/lock && mount -t tmpfs none /var/lib/corosync && exec corosync -f -c "+conf)
	coro.Stdout, coro.Stderr = &coroLog, &coroLog
	if err := coro.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		coro.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { coro.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			coro.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("corosync log:\n%s", coroLog.String())
		}
	})
	return ns
}

func TestGoClientAgainstRealCorosync(t *testing.T) {
	ns := startCorosync(t)
	helper := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=corosync-client")
	out, err := helper.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "OK\n") {
		t.Fatalf("Go client against corosync: %v\n%s", err, out)
	}
	ours := strings.TrimSuffix(string(out), "OK\n")
	t.Logf("Go client read %d keys from corosync", strings.Count(ours, "\n"))
	if !strings.Contains(ours, "runtime.config.totem.token (u32) = 3000\n") {
		t.Fatalf("runtime.config.totem.token not read correctly:\n%s", ours)
	}
	// The same keys through Debian's own tool: configuration and
	// effective totem values must match line for line (runtime counters
	// may move between the two reads, so only stable prefixes compare).
	ref, err := exec.Command("ip", "netns", "exec", ns, "corosync-cmapctl").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"totem.", "nodelist.", "quorum.", "runtime.config.", "internal_configuration.", "runtime.votequorum.this_node_id"} {
		if a, b := linesWithPrefix(ours, p), linesWithPrefix(string(ref), p); a != b || a == "" {
			t.Errorf("prefix %s differs:\n--- Go client\n%s--- corosync-cmapctl\n%s", p, a, b)
		}
	}
}

// runBenchClient is the helper side of the Go-client benchmarks: n GETs
// of key with a 16-byte buffer (what libcmap's cmap_get_uint32 sends), one
// round trip each. It prints the rate.
func runBenchClient() int {
	n, _ := strconv.Atoi(os.Getenv(helperEnv + "_N"))
	key := os.Getenv(helperEnv + "_KEY")
	var c *cmapsvc.Client
	var err error
	if name := os.Getenv(helperEnv + "_SERVICE"); name != "" {
		c, err = cmapsvc.DialService(name, 0)
	} else {
		c, err = dialRetry(0)
	}
	if err != nil {
		fmt.Println("FAIL", err)
		return 1
	}
	defer c.Close()
	req := cmapsvc.GetRequestForBench(key, 16)
	start := time.Now()
	for range n {
		if _, err := c.IPC().SendRecv(req, -1); err != nil {
			fmt.Println("FAIL", err)
			return 1
		}
	}
	fmt.Printf("%.0f req/s\n", float64(n)/time.Since(start).Seconds())
	return 0
}

func benchGoClient(b *testing.B, ns, key string) {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=bench-client", helperEnv+"_N="+strconv.Itoa(b.N), helperEnv+"_KEY="+key)
	b.ResetTimer()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "req/s\n") {
		b.Fatalf("%v %s", err, out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkGoClientGetCorosync: our Go client against the real corosync.
func BenchmarkGoClientGetCorosync(b *testing.B) {
	benchGoClient(b, startCorosync(b), "runtime.config.totem.token")
}

// BenchmarkGoClientGetOurs: our Go client against our server (separate
// processes, as in production).
func BenchmarkGoClientGetOurs(b *testing.B) {
	ipctest.NeedRoot(b)
	benchGoClient(b, startNsServer(b).ns, "test.types.u32")
}

// BenchmarkLibcmapGetCorosync: the C library against the real corosync,
// the reference figure for BenchmarkLibcmapGet.
func BenchmarkLibcmapGetCorosync(b *testing.B) {
	bin := buildLibcmapClient(b)
	ns := startCorosync(b)
	time.Sleep(time.Second) // let corosync finish its first sync
	b.ResetTimer()
	out, err := exec.Command("ip", "netns", "exec", ns, bin, "bench", strconv.Itoa(b.N), "runtime.config.totem.token").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "req/s") {
		b.Fatalf("%v %s", err, out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
