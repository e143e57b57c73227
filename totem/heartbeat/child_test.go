package heartbeat

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prober plays node 2 on 127.0.0.2, probing node 1's heartbeat port.
type prober struct {
	c   *net.UDPConn
	to  netip.AddrPort
	seq uint32
}

func newProber(t *testing.T) *prober {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")))
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	port := c.LocalAddr().(*net.UDPAddr).Port
	return &prober{c: c, to: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
}

func (p *prober) port() uint16 { return p.to.Port() }

// ask sends one probe and reports whether its answer came within wait.
func (p *prober) ask(t *testing.T, wait time.Duration) bool {
	t.Helper()
	p.seq++
	b := Packet{Type: TypeProbe, From: 2, To: 1, Seq: p.seq, Stamp: Monotonic()}.Append(nil)
	if _, err := p.c.WriteToUDPAddrPort(b, p.to); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	buf := make([]byte, 64)
	for {
		_ = p.c.SetReadDeadline(deadline)
		n, _, err := p.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return false
		}
		if a, err := Parse(buf[:n]); err == nil && a.Type == TypeAnswer && a.Seq == p.seq && a.From == 1 && a.To == 2 {
			return true
		}
	}
}

// askUntil probes until one is answered or wait has passed.
func (p *prober) askUntil(t *testing.T, wait time.Duration) bool {
	for end := time.Now().Add(wait); time.Now().Before(end); {
		if p.ask(t, 100*time.Millisecond) {
			return true
		}
	}
	return false
}

// answerOne answers the next probe that reaches node 2.
func (p *prober) answerOne(t *testing.T) {
	t.Helper()
	buf := make([]byte, 64)
	_ = p.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, from, err := p.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no probe from node 1: %v", err)
		}
		if q, err := Parse(buf[:n]); err == nil && q.Type == TypeProbe && q.To == 2 {
			if _, err := p.c.WriteToUDPAddrPort(q.Answer(2, 0).Append(nil), from); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

func loopbackConfig(port uint16, grace time.Duration) Config {
	return Config{NodeID: 1, Port: port, NoBPF: true, Grace: grace, Links: []LinkConfig{{Number: 0,
		Local: netip.MustParseAddr("127.0.0.1"),
		Peers: []Peer{{NodeID: 1, Addr: netip.MustParseAddr("127.0.0.1")}, {NodeID: 2, Addr: netip.MustParseAddr("127.0.0.2")}}}}}
}

// The responder process answers only while the stamp is younger than
// the grace, records what it saw where the engine reads it, and when it
// dies the daemon takes over answering.
func TestResponderProcessFollowsStamp(t *testing.T) {
	p := newProber(t)
	e, err := Open(loopbackConfig(p.port(), time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.child == nil || !strings.HasPrefix(e.Mode(), "userspace (responder process ") || e.Kernel() {
		t.Fatalf("mode %q: the responder process did not start", e.Mode())
	}
	if p.ask(t, 500*time.Millisecond) {
		t.Fatal("answered before the first stamp")
	}
	e.Stamp()
	if !p.ask(t, time.Second) {
		t.Fatal("fresh stamp: no answer")
	}
	time.Sleep(1500 * time.Millisecond) // past the 1 s grace
	if p.ask(t, 300*time.Millisecond) {
		t.Fatal("stale stamp: answered")
	}
	e.Stamp()
	if !p.ask(t, time.Second) {
		t.Fatal("stamp refreshed: no answer")
	}
	r, err := e.kernel.Lookup(Key{Node: 2, Link: 0})
	if err != nil || r.Probes != 4 || r.Replied != 2 || r.LastProbe == 0 {
		t.Fatalf("responder record %+v %v; want 4 probes, 2 answered", r, err)
	}
	if u := e.user.lookup(Key{Node: 2, Link: 0}); u.Probes != 0 {
		t.Fatalf("the daemon read probes itself: %+v", u)
	}
	// Our own probe, answered by node 2: the answer reaches the engine
	// through the shared memory.
	e.Stamp()
	e.Tick()
	p.answerOne(t)
	var st LinkStatus
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && st.Answers == 0; time.Sleep(20 * time.Millisecond) {
		e.Tick()
		st = e.Links()[0]
	}
	if st.Node != 2 || st.Answers != 1 || st.RTT <= 0 || st.Probes != 4 || !st.Fenced {
		t.Fatalf("engine's view %+v", st)
	}
	// A responder that dies under a running daemon is replaced: a new
	// process answers, takes over the records, and the mode names it.
	old := e.child.pid.Load()
	killed := time.Now()
	if err := e.child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Stamp()
	if !p.askUntil(t, 3*time.Second) {
		t.Fatal("no answer after the responder process died")
	}
	t.Logf("answered again %v after the kill", time.Since(killed))
	// The new process may answer before the daemon has read its ready
	// signal and recorded it (spawn.go): give the bookkeeping a moment.
	pid := e.child.pid.Load()
	for end := time.Now().Add(2 * time.Second); (pid == 0 || e.child.starts.Load() != 2) && time.Now().Before(end); pid = e.child.pid.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 || pid == old || e.Mode() != fmt.Sprintf("userspace (responder process %d)", pid) || e.child.starts.Load() != 2 {
		t.Fatalf("after the kill: pid %d (was %d), mode %q, %d starts", pid, old, e.Mode(), e.child.starts.Load())
	}
	if u := e.user.lookup(Key{Node: 2, Link: 0}); u.Probes != 0 {
		t.Fatalf("the daemon read probes itself: %+v", u)
	}
	if r, _ := e.kernel.Lookup(Key{Node: 2, Link: 0}); r.Probes < 5 || r.Replied < 3 {
		t.Fatalf("the new responder did not go on from the old one's record: %+v", r)
	}
}

// A responder that keeps dying young is given up on: the daemon answers
// in its own process, and the mode says so.
func TestResponderProcessCrashLoopFallsBackToDaemon(t *testing.T) {
	defer func(q int, d []time.Duration) { maxQuickDeaths, restartDelays = q, d }(maxQuickDeaths, restartDelays)
	maxQuickDeaths, restartDelays = 2, []time.Duration{0, 50 * time.Millisecond}
	p := newProber(t)
	e, err := Open(loopbackConfig(p.port(), time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.child == nil {
		t.Fatalf("mode %q: the responder process did not start", e.Mode())
	}
	e.Stamp()
	// Kill each responder as soon as it runs: two restarts, then the
	// third death is one too many.
	seen := map[int64]bool{}
	for end := time.Now().Add(10 * time.Second); len(seen) < 3; {
		if time.Now().After(end) {
			t.Fatalf("only %d responder processes started", len(seen))
		}
		if pid := e.child.pid.Load(); pid != 0 && !seen[pid] {
			seen[pid] = true
			_ = syscall.Kill(int(pid), syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for end := time.Now().Add(5 * time.Second); !strings.HasPrefix(e.Mode(), "userspace (in the daemon: responder process gave up: "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("mode %q after a crash loop", e.Mode())
		}
	}
	e.Stamp()
	if !p.askUntil(t, 3*time.Second) {
		t.Fatal("no answer from the daemon after giving up on the responder")
	}
	if u := e.user.lookup(Key{Node: 2, Link: 0}); u.Replied == 0 {
		t.Fatalf("the daemon did not take over: %+v", u)
	}
	if n := e.child.starts.Load(); n != 3 {
		t.Fatalf("%d responder processes started, want 3", n)
	}
}

const testDaemonEnv = "RINGFENCE_TEST_HB_DAEMON"

// testDaemon is the test binary as a daemon for the next test: an
// engine with its responder process, stamped every 10 ms until killed.
func testDaemon(spec string) {
	port, grace, _ := strings.Cut(spec, "/")
	pn, _ := strconv.Atoi(port)
	g, _ := time.ParseDuration(grace)
	e, err := Open(loopbackConfig(uint16(pn), g))
	if err != nil || e.child == nil {
		fmt.Printf("failed %v %v\n", err, e.Mode())
		os.Exit(1)
	}
	fmt.Printf("ready %d\n", e.child.pid.Load())
	for {
		e.Stamp()
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether pid has exited (or is a zombie nobody reaped).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// The kernel path's behaviour with the responder process: a stopped
// daemon is answered for until its stamp is older than the grace, and a
// killed one not at all (the process goes with it).
func TestResponderProcessFollowsDaemon(t *testing.T) {
	p := newProber(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d/1500ms", testDaemonEnv, p.port()))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	var child int
	if _, err2 := fmt.Sscanf(line, "ready %d", &child); err != nil || err2 != nil {
		t.Fatalf("daemon: %q %v %v", line, err, err2)
	}
	if !p.askUntil(t, 2*time.Second) {
		t.Fatal("running daemon: no answer")
	}
	stopped := time.Now()
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if !p.ask(t, 500*time.Millisecond) {
		t.Fatal("daemon stopped for 0.2 s (grace 1.5 s): no answer")
	}
	time.Sleep(time.Until(stopped.Add(2500 * time.Millisecond)))
	if p.ask(t, 300*time.Millisecond) {
		t.Fatal("daemon stopped for 2.5 s (grace 1.5 s): still answered")
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if !p.askUntil(t, 2*time.Second) {
		t.Fatal("daemon continued: no answer")
	}
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for !gone(child) {
		if time.Since(killed) > 3*time.Second {
			t.Fatalf("responder process %d outlived the daemon by 3 s", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("responder process gone %v after the daemon's SIGKILL", time.Since(killed))
	if p.ask(t, 300*time.Millisecond) {
		t.Fatal("killed daemon: still answered")
	}
}

func TestResponderSpecRoundTrip(t *testing.T) {
	id, links, err := parseResponderSpec(responderSpec(7, []uint8{0, 1}))
	if err != nil || id != 7 || !slices.Equal(links, []uint8{0, 1}) {
		t.Fatalf("%d %v %v", id, links, err)
	}
	for _, bad := range []string{"", "7", "0/0", "7/", "7/256", "x/1", "7/1,,2"} {
		if _, _, err := parseResponderSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzResponderSpec(f *testing.F) {
	f.Add("1/0")
	f.Add("4294967295/0,1,255")
	f.Fuzz(func(t *testing.T, s string) {
		id, links, err := parseResponderSpec(s)
		if err != nil {
			return
		}
		id2, links2, err := parseResponderSpec(responderSpec(id, links))
		if err != nil || id2 != id || !slices.Equal(links, links2) {
			t.Fatalf("%q: %d %v -> %d %v %v", s, id, links, id2, links2, err)
		}
	})
}
