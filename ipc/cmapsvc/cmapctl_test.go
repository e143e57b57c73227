package cmapsvc_test

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nsServer is the helper server running in its own network namespace, so
// its abstract "cmap" socket cannot meet a real corosync's.
type nsServer struct {
	t     testing.TB
	ns    string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startNsServer(t testing.TB) *nsServer { return startNsServerType(t, false) }

// startNsServerType starts the helper serving the socket connection type
// when socket is true, shared memory otherwise.
func startNsServerType(t testing.TB, socket bool) *nsServer {
	t.Helper()
	ns := ipctest.NewNetns(t, "rfipc")
	env := []string{helperEnv + "=server"}
	if socket {
		env = append(env, helperEnv+"_SOCKET=1")
	}
	h := ipctest.Start(t, ns, env...)
	return &nsServer{t: t, ns: ns, cmd: h.Cmd, stdin: h.Stdin, out: h.Out}
}

// dump asks the helper for its store contents in cmapctl format.
func (s *nsServer) dump(which string) string {
	s.t.Helper()
	fmt.Fprintln(s.stdin, which)
	var b strings.Builder
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			s.t.Fatalf("helper died: %v", err)
		}
		if line == "END\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func (s *nsServer) conns() int {
	fmt.Fprintln(s.stdin, "conns")
	line, _ := s.out.ReadString('\n')
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	return n
}

// cmapctl runs Debian's unmodified corosync-cmapctl inside the namespace.
func (s *nsServer) cmapctl(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.ns, "corosync-cmapctl"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%v: %s", err, errb.String())
		}
		return out.String(), nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		return out.String(), fmt.Errorf("corosync-cmapctl %v hung", args)
	}
}

func linesWithPrefix(dump, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(dump, "\n") {
		if l != "" && strings.HasPrefix(l, prefix) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func lineOf(dump, key string) string { return linesWithPrefix(dump, key+" (") }

// connTypes runs a test against both libqb connection types.
func connTypes(t *testing.T, f func(t *testing.T, socket bool)) {
	t.Run("shm", func(t *testing.T) { f(t, false) })
	t.Run("socket", func(t *testing.T) { f(t, true) })
}

func TestCorosyncCmapctlAgainstOurServer(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cmapctl")
	connTypes(t, testCmapctlAgainstOurServer)
}

func testCmapctlAgainstOurServer(t *testing.T, socket bool) {
	s := startNsServerType(t, socket)

	// Full dump, prefix listing and single gets match the store.
	want := s.dump("dump")
	got, err := s.cmapctl()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("cmapctl dump differs from the store.\n--- cmapctl\n%s--- store\n%s", got, want)
	}
	if got, err := s.cmapctl("totem."); err != nil || got != linesWithPrefix(want, "totem.") {
		t.Fatalf("prefix listing: %v\n%s", err, got)
	}
	for _, k := range []string{"test.types.i8", "test.types.u64", "test.types.flt", "test.types.dbl",
		"test.types.str", "test.types.emptystr", "runtime.config.totem.token", "test.types.i64"} {
		got, err := s.cmapctl("-g", k)
		if err != nil || got != lineOf(want, k) {
			t.Fatalf("-g %s: %v %q, want %q", k, err, got, lineOf(want, k))
		}
	}
	if got, err := s.cmapctl("-g", "no.such.key"); err == nil || !strings.Contains(err.Error(), "CS_ERR_NOT_EXIST") {
		t.Fatalf("-g of a missing key: %q %v", got, err)
	}

	// Set, then read back both through the tool and from the store.
	if _, err := s.cmapctl("-s", "test.new.value", "u32", "5"); err != nil {
		t.Fatal(err)
	}
	if l := lineOf(s.dump("dump"), "test.new.value"); l != "test.new.value (u32) = 5\n" {
		t.Fatalf("store after -s: %q", l)
	}
	if _, err := s.cmapctl("-s", "test.new.str", "str", "with spaces"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.cmapctl("-g", "test.new.str"); got != "test.new.str (str) = with spaces\n" {
		t.Fatalf("-g after -s str: %q", got)
	}
	// Read-only keys are refused and stay unchanged.
	if _, err := s.cmapctl("-s", "runtime.config.totem.token", "u32", "1"); err == nil {
		t.Fatal("setting a read-only key succeeded")
	}
	if l := lineOf(s.dump("dump"), "runtime.config.totem.token"); l != "runtime.config.totem.token (u32) = 3000\n" {
		t.Fatalf("read-only key changed: %q", l)
	}
	// Delete.
	if _, err := s.cmapctl("-d", "test.new.value"); err != nil {
		t.Fatal(err)
	}
	if l := lineOf(s.dump("dump"), "test.new.value"); l != "" {
		t.Fatalf("key still there after -d: %q", l)
	}
	// Load from a file: set, delete, delete by prefix.
	file := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(file, []byte("test.file.a u8 3\n^test.types.i8\n^^test.new.\n"), 0o644)
	if _, err := s.cmapctl("-p", file); err != nil {
		t.Fatal(err)
	}
	d := s.dump("dump")
	if lineOf(d, "test.file.a") != "test.file.a (u8) = 3\n" || lineOf(d, "test.types.i8") != "" || linesWithPrefix(d, "test.new.") != "" {
		t.Fatalf("-p file not applied:\n%s", d)
	}
	// The stats map.
	if got, err := s.cmapctl("-m", "stats"); err != nil || got != s.dump("dump-stats") {
		t.Fatalf("-m stats: %v\n%s", err, got)
	}
	// After all those clients, no connection is left behind.
	for i := 0; s.conns() != 0; i++ {
		if i > 100 {
			t.Fatalf("connections left open: %d", s.conns())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// "ip netns exec" execs the helper in place, so its pid names the
	// per-connection directories; all of them must be gone.
	s.waitNoShm()
}

func TestCorosyncCmapctlTracking(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cmapctl", "stdbuf")
	connTypes(t, testCmapctlTracking)
}

func testCmapctlTracking(t *testing.T, socket bool) {
	s := startNsServerType(t, socket)
	if _, err := s.cmapctl("-s", "test.track.key", "u32", "1"); err != nil {
		t.Fatal(err)
	}
	// stdbuf makes the tool's printf output line-buffered into our pipe.
	var out syncBuffer
	track := exec.Command("ip", "netns", "exec", s.ns, "stdbuf", "-oL", "corosync-cmapctl", "-T", "test.track.")
	track.Stdout, track.Stderr = &out, &out
	// The tool quits on EOF of stdin, so give it a pipe that stays open.
	quit, err := track.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer quit.Close()
	if err := track.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if track.ProcessState == nil {
			track.Process.Kill()
			track.Wait()
		}
	}()
	// A second tool tracks one exact key with -t.
	var outKey syncBuffer
	trackKey := exec.Command("ip", "netns", "exec", s.ns, "stdbuf", "-oL", "corosync-cmapctl", "-t", "test.track.key")
	trackKey.Stdout, trackKey.Stderr = &outKey, &outKey
	quitKey, _ := trackKey.StdinPipe()
	if err := trackKey.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { quitKey.Close(); trackKey.Process.Kill(); trackKey.Wait() }()
	for i := 0; s.conns() != 2; i++ {
		if i > 250 {
			t.Fatalf("tracking cmapctl never connected: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let it register the track after connecting
	steps := [][]string{
		{"-s", "test.track.key", "u32", "7"},
		{"-s", "test.track.other", "str", "new one"},
		{"-d", "test.track.key"},
		{"-s", "test.untracked", "u8", "1"},
	}
	for _, st := range steps {
		if _, err := s.cmapctl(st...); err != nil {
			t.Fatal(err)
		}
	}
	want := "Type \"q\" to finish\n" +
		"modify> test.track.key (u32) = 7\n" +
		"create> test.track.other (str) = new one\n" +
		"delete> test.track.key (u32) = 7\n"
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := out.String(); got != want {
		t.Fatalf("tracking output:\n%q\nwant\n%q", got, want)
	}
	wantKey := "Type \"q\" to finish\n" +
		"modify> test.track.key (u32) = 7\n" +
		"delete> test.track.key (u32) = 7\n"
	for outKey.String() != wantKey && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := outKey.String(); got != wantKey {
		t.Fatalf("-t output:\n%q\nwant\n%q", got, wantKey)
	}
	fmt.Fprintln(quitKey, "q")
	if err := trackKey.Wait(); err != nil {
		t.Fatalf("-t cmapctl exit: %v", err)
	}
	// "q" ends the tool cleanly, and its connection goes away.
	fmt.Fprintln(quit, "q")
	if err := track.Wait(); err != nil {
		t.Fatalf("tracking cmapctl exit: %v", err)
	}
	for i := 0; s.conns() != 0; i++ {
		if i > 250 {
			t.Fatal("tracking connection not cleaned up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *nsServer) command(cmd string) string {
	fmt.Fprintln(s.stdin, cmd)
	line, _ := s.out.ReadString('\n')
	return strings.TrimSpace(line)
}

// TestCmapctlRetriesUntilReady: before the daemon is ready the handshake
// answers -EAGAIN; libcmap maps it to CS_ERR_TRY_AGAIN and cmapctl
// retries once a second until the door opens.
func TestCmapctlRetriesUntilReady(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cmapctl")
	s := startNsServer(t)
	s.command("ready 0")
	type result struct {
		out string
		err error
	}
	res := make(chan result, 1)
	go func() { o, err := s.cmapctl("-g", "totem.cluster_name"); res <- result{o, err} }()
	for i := 0; s.command("refused") == "0"; i++ {
		if i > 250 {
			t.Fatal("cmapctl never tried to connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.command("ready 1")
	r := <-res
	if r.err != nil || r.out != "totem.cluster_name (str) = ringfence-test\n" {
		t.Fatalf("cmapctl after becoming ready: %q %v", r.out, r.err)
	}
}

// TestKilledLibqbClientIsCleanedUp: a client killed with SIGKILL while
// connected leaves nothing behind on the server side.
func TestKilledLibqbClientIsCleanedUp(t *testing.T) {
	ipctest.NeedRoot(t, "corosync-cmapctl")
	s := startNsServer(t)
	track := exec.Command("ip", "netns", "exec", s.ns, "corosync-cmapctl", "-t", "totem.version")
	stdin, _ := track.StdinPipe()
	defer stdin.Close()
	if err := track.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; s.conns() != 1; i++ {
		if i > 250 {
			t.Fatal("cmapctl never connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	track.Process.Kill()
	track.Wait()
	for i := 0; s.conns() != 0; i++ {
		if i > 250 {
			t.Fatal("connection of a killed client not cleaned up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.waitNoShm()
}

// waitNoShm waits for the helper's per-connection directories to go: the
// live-connection count drops before the owner goroutine removes them.
func (s *nsServer) waitNoShm() {
	s.t.Helper()
	var m []string
	for range 250 {
		if m, _ = filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-*", s.cmd.Process.Pid)); len(m) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("shared-memory directories left behind: %v", m)
}
