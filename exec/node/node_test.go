package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/tools/netns"
)

// loopbackConf renders a udpu config for nodes 1..n on 127.0.0.<id>.
func loopbackConf(n int, port int, token int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: nodetest\n\ttransport: udpu\n\ttoken: %d\n\tinterface {\n\t\tlinknumber: 0\n\t\tmcastport: %d\n\t}\n}\n", token, port)
	b.WriteString("logging {\n\tto_stderr: yes\n\tto_syslog: no\n}\nnodelist {\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\tnode {\n\t\tring0_addr: 127.0.0.%d\n\t\tnodeid: %d\n\t}\n", i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

func parseFor(t testing.TB, text string, local netip.Addr) *coroconf.Config {
	t.Helper()
	env := coroconf.DefaultEnv()
	env.Hostname = "ringfence-test-host"
	env.LocalAddrs = []netip.Addr{local}
	env.Resolve = func(string) []netip.Addr { return nil }
	env.ReverseNames = nil
	env.NoUidgidDir = true
	cfg, err := coroconf.Parse("corosync.conf", []byte(text), env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type testNode struct {
	n      *Node
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	got    []string
	log    *logBuf
	// slow, when set, is how long each app delivery takes.
	slow atomic.Int64
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startNode(t *testing.T, text string, id int, stateDir string) *testNode {
	t.Helper()
	cfg := parseFor(t, text, netip.AddrFrom4([4]byte{127, 0, 0, byte(id)}))
	tn := &testNode{done: make(chan error, 1), log: &logBuf{}}
	lg := logrus.New()
	ls := LogSettings{Timestamp: "hires", Debug: testing.Verbose()}
	lg.SetFormatter(&corosyncFormatter{settings: ls})
	lg.SetOutput(io.MultiWriter(tn.log))
	lg.SetLevel(logrus.InfoLevel)
	n, err := New(Options{
		Config: cfg, Logger: lg, StateDir: stateDir, NoIPC: true, AppGroup: "test",
		OnAppMessage: func(from uint32, p []byte) {
			time.Sleep(time.Duration(tn.slow.Load()))
			tn.mu.Lock()
			tn.got = append(tn.got, fmt.Sprintf("%d:%s", from, p))
			tn.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("node %d: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn.n, tn.cancel = n, cancel
	go func() { tn.done <- n.Run(ctx) }()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	<-tn.done
	tn.cancel = nil
}

func (tn *testNode) messages() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.got)
}

// waitRing waits until every node in nodes reports the same synced ring
// whose members are want.
func waitRing(t *testing.T, nodes []*testNode, want []uint32, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok := true
		var ring string
		for _, tn := range nodes {
			st := tn.n.Status()
			if !st.Synced || !slices.Equal(st.Members, want) {
				ok = false
				break
			}
			if ring == "" {
				ring = st.RingID.String()
			} else if ring != st.RingID.String() {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tn := range nodes {
		st := tn.n.Status()
		t.Logf("node %d: %+v\n%s", tn.n.Settings().NodeID, st, tn.log.String())
	}
	t.Fatalf("ring %v did not form within %v", want, timeout)
}

var lateToken = regexp.MustCompile(`notice +\[TOTEM \] Token has not been received in ([0-9]+) ms`)

func TestThreeNodesOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("forms real rings on loopback (several seconds)")
	}
	port := netns.FreeLoopbackPort(t, 3)
	text := loopbackConf(3, port, 300)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := []*testNode{startNode(t, text, 1, dirs[0]), startNode(t, text, 2, dirs[1]), startNode(t, text, 3, dirs[2])}
	waitRing(t, nodes, []uint32{1, 2, 3}, 15*time.Second)
	first := nodes[0].n.Status().RingID

	// Every node multicasts; all must deliver all messages in one order.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		for _, tn := range nodes {
			if err := tn.n.Multicast(ctx, []byte(fmt.Sprintf("m%d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (len(nodes[0].messages()) < 60 || len(nodes[1].messages()) < 60 || len(nodes[2].messages()) < 60) {
		time.Sleep(20 * time.Millisecond)
	}
	ref := nodes[0].messages()
	if len(ref) != 60 {
		t.Fatalf("node 1 delivered %d of 60 messages", len(ref))
	}
	for _, tn := range nodes[1:] {
		if got := tn.messages(); !slices.Equal(got, ref) {
			t.Fatalf("node %d delivered a different sequence:\n%v\nvs node 1:\n%v", tn.n.Settings().NodeID, got, ref)
		}
	}

	// The membership keys Corosync keeps are there.
	var status, ip, self string
	if err := nodes[0].n.Do(ctx, func() {
		self, _ = nodes[0].n.Store().GetString("runtime.members.1.status")
		status, _ = nodes[0].n.Store().GetString("runtime.members.3.status")
		ip, _ = nodes[0].n.Store().GetString("runtime.members.3.ip")
	}); err != nil {
		t.Fatal(err)
	}
	if self != "joined" || status != "joined" || ip != "r(0) ip(127.0.0.3) " {
		t.Fatalf("runtime.members.1.status %q, runtime.members.3: status %q ip %q", self, status, ip)
	}

	// Node 3 leaves cleanly; the others re-form without it.
	nodes[2].stop()
	waitRing(t, nodes[:2], []uint32{1, 2}, 15*time.Second)
	if !strings.Contains(nodes[0].log.String(), "left: 3") {
		t.Fatalf("node 1 did not log node 3 leaving:\n%s", nodes[0].log.String())
	}
	if err := nodes[0].n.Do(ctx, func() { status, _ = nodes[0].n.Store().GetString("runtime.members.3.status") }); err != nil {
		t.Fatal(err)
	}
	if status != "left" {
		t.Fatalf("runtime.members.3.status = %q after the leave", status)
	}

	// It restarts with the same state directory and rejoins on a newer
	// ring.
	nodes[2] = startNode(t, text, 3, dirs[2])
	waitRing(t, nodes, []uint32{1, 2, 3}, 15*time.Second)
	last := nodes[0].n.Status().RingID
	if last.Seq <= first.Seq {
		t.Fatalf("ring seq did not advance: %v then %v", first, last)
	}
	seq, err := newFileRingSeq(dirs[0], 1).LoadRingSeq()
	if err != nil || seq != last.Seq {
		t.Fatalf("ringid_1 holds %d (%v), ring is %v", seq, err, last)
	}
	// Node 2 crashes: its sockets vanish without a LEAVE. The others
	// notice the lost token and re-form without it.
	tr := nodes[1].n.tr
	tr.Close()
	if err := <-nodes[1].done; err == nil {
		t.Fatal("Run returned nil after its transport died")
	}
	nodes[1].cancel = nil
	waitRing(t, []*testNode{nodes[0], nodes[2]}, []uint32{1, 3}, 15*time.Second)

	for _, want := range []string{"A new membership (", "Completed service synchronization, ready to provide service.", "[QUORUM] Members[3]: 1 2 3",
		"left: 2"} {
		if !strings.Contains(nodes[0].log.String(), want) {
			t.Errorf("node 1's log lacks %q", want)
		}
	}
	// Whichever survivor times out on the token first says so and sends
	// the join; the other one follows that join without a timeout of its
	// own (Corosync logs the notice only from its token timer too), so
	// the notice is the cluster's, not necessarily node 1's.
	const failed = "A processor failed, forming new configuration"
	if !strings.Contains(nodes[0].log.String(), failed) && !strings.Contains(nodes[2].log.String(), failed) {
		t.Errorf("neither survivor logged %q:\nnode 1:\n%s\nnode 3:\n%s", failed, nodes[0].log.String(), nodes[2].log.String())
	}
	// Before that, at token_warning (75%) of the token timeout (300 ms +
	// 650 ms for the third node), the survivors warned of the late token
	// at notice level (later if the machine stalled the loop).
	warned := false
	for _, tn := range []*testNode{nodes[0], nodes[2]} {
		for _, m := range lateToken.FindAllStringSubmatch(tn.log.String(), -1) {
			warned = true
			if ms, _ := strconv.Atoi(m[1]); ms < 712 {
				t.Errorf("node %d warned early: %q", tn.n.Settings().NodeID, m[0])
			}
		}
	}
	if !warned {
		t.Errorf("no survivor warned of the late token:\nnode 1:\n%s\nnode 3:\n%s", nodes[0].log.String(), nodes[2].log.String())
	}
	if t.Failed() || testing.Verbose() {
		t.Log(nodes[0].log.String())
	}
}

func TestRingSeqFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	f := newFileRingSeq(dir, 7)
	if seq, err := f.LoadRingSeq(); err != nil || seq != 0 {
		t.Fatalf("fresh: %d %v", seq, err)
	}
	if err := f.StoreRingSeq(0x1234); err != nil {
		t.Fatal(err)
	}
	if seq, err := newFileRingSeq(dir, 7).LoadRingSeq(); err != nil || seq != 0x1234 {
		t.Fatalf("reload: %#x %v", seq, err)
	}
}

// TestNewFailsCleanly: a port already taken makes New fail with an error
// (and release what it had opened), never panic.
func TestNewFailsCleanly(t *testing.T) {
	port := netns.FreeLoopbackPort(t, 1)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := parseFor(t, loopbackConf(1, port, 1000), netip.MustParseAddr("127.0.0.1"))
	pid := filepath.Join(t.TempDir(), "corosync.pid")
	n, err := New(Options{Config: cfg, StateDir: t.TempDir(), NoIPC: true, PidFile: pid, Logger: logrus.New()})
	if err == nil || n != nil {
		t.Fatalf("New on a taken port: %v, %v", n, err)
	}
	if _, serr := os.Stat(pid); !os.IsNotExist(serr) {
		t.Fatalf("pid file left behind after a failed start: %v", serr)
	}
}
