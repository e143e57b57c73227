package netns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// NamePrefix starts every namespace this package creates. The full name is
// NamePrefix + pid + "x" + serial + "-" + role, which lets Sweep tell a
// dead run's leftovers from a live run's namespaces.
const NamePrefix = "rfns"

// MaxHosts is the largest cluster one bridge serves (addresses
// 198.18.0.1 .. 198.18.0.250).
const MaxHosts = 250

// Options tunes a cluster. The zero value is what corosync tests need.
type Options struct {
	// ExtraTmpfs lists more directories to cover with a private tmpfs on
	// every host, e.g. /var/lib/pacemaker or /dev/shm. A private /dev/shm
	// means IPC clients must run on the same host (they do, via Run).
	ExtraTmpfs []string
	// Dir is where logs and configs go (default: t.TempDir() for
	// NewCluster, a fresh directory under os.TempDir() for New).
	Dir string
}

// Cluster is a set of hosts joined by one bridge.
type Cluster struct {
	prefix string
	bridge string // namespace holding br0
	Hosts  []*Host
	dir    string

	mu     sync.Mutex
	procs  []*Proc
	closed bool

	netemOnce sync.Once
	netemErr  error
}

var serial atomic.Int32

// Available reports why clusters cannot be built here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root for network namespaces")
	}
	for _, c := range []string{"ip", "nsenter", "unshare", "sh"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("needs %s for network namespaces", c)
		}
	}
	return nil
}

// NewCluster builds n hosts or skips the test when that is impossible.
// Failures after the checks fail the test; whatever was built is removed
// by a t.Cleanup, which also prints the tail of every process log when the
// test failed.
func NewCluster(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := New(n, opts)
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				c.dumpLogs(t.Logf)
			}
			c.Close()
		})
	}
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	return c
}

// New builds n hosts outside a test (the rfnetns command uses it). On
// error the returned cluster, if not nil, holds what was built and must
// still be closed. Namespaces are swept as soon as this process is gone,
// so a cluster lives exactly as long as its creator.
func New(n int, opts Options) (*Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("netns: %d hosts; want 1..%d", n, MaxHosts)
	}
	Sweep()
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "rfnetns-")
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	c := &Cluster{
		prefix: fmt.Sprintf("%s%dx%d-", NamePrefix, os.Getpid(), serial.Add(1)),
		dir:    opts.Dir,
	}
	c.bridge = c.prefix + "br"
	if err := c.build(n, opts); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Cluster) build(n int, opts Options) error {
	if err := ipCmd("netns", "add", c.bridge); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"-n", c.bridge, "link", "set", "lo", "up"},
		// Snooping off: the bridge floods multicast like a dumb switch,
		// so the udp transport works without an IGMP querier.
		{"-n", c.bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"},
		{"-n", c.bridge, "link", "set", "br0", "up"},
	} {
		if err := ipCmd(args...); err != nil {
			return err
		}
	}
	c.Hosts = make([]*Host, n)
	for i := 1; i <= n; i++ {
		c.Hosts[i-1] = &Host{
			c:     c,
			Index: i,
			NS:    fmt.Sprintf("%sh%d", c.prefix, i),
			Addr:  HostAddr(i),
			port:  fmt.Sprintf("p%d", i),
		}
	}
	// Hosts are built a few at a time: each is a handful of ip commands
	// and a holder process, mostly waiting on the kernel.
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, h := range c.Hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.build(opts); err != nil {
				errs[i] = fmt.Errorf("host %d: %w", h.Index, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// HostAddr is the address of host i (1-based).
func HostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
}

// Prefix is this cluster's namespace-name prefix.
func (c *Cluster) Prefix() string { return c.prefix }

// Dir is the cluster's scratch directory, visible from every host.
func (c *Cluster) Dir() string { return c.dir }

// Close kills every process, removes the namespaces and the bridge. It is
// registered with t.Cleanup and safe to call more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		p.killGroup()
	}
	for _, p := range procs {
		p.waitTimeout(2 * time.Second)
	}
	for _, h := range c.Hosts {
		killNamespacePids(h.NS)
		_ = ipCmd("netns", "del", h.NS)
	}
	_ = ipCmd("netns", "del", c.bridge)
	SweepIPCRings("/dev/shm")
}

// dumpLogs prints the last lines of every process log.
func (c *Cluster) dumpLogs(logf func(string, ...any)) {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		if !p.holder {
			logf("--- log of %s on %s (%s), last lines:\n%s", p.Name, p.host.NS, p.LogPath, tail(p.LogPath, 40))
		}
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ipCmd runs ip with args and turns a failure into an error with its
// output.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ipBatch runs several ip commands in namespace ns with one process.
func ipBatch(ns string, lines ...string) error {
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s -batch (%s): %v: %s", ns, strings.Join(lines, "; "), err, bytes.TrimSpace(out))
	}
	return nil
}

// killNamespacePids SIGKILLs whatever still runs in a namespace.
func killNamespacePids(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Sweep removes namespaces left by runs whose process is gone. Namespaces
// of live processes (other tests running now) are left alone.
func Sweep() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		pid, ok := ownerPid(name)
		if !ok || syscall.Kill(pid, 0) == nil || pid == os.Getpid() {
			continue
		}
		killNamespacePids(name)
		_ = exec.Command("ip", "netns", "del", name).Run()
	}
}

// ownerPid parses NamePrefix<pid>x<serial>-<role>.
func ownerPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return 0, false
	}
	pidStr, rest, ok := strings.Cut(rest, "x")
	if !ok {
		return 0, false
	}
	serialStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0, false
	}
	if _, err := strconv.Atoi(serialStr); err != nil {
		return 0, false
	}
	return pid, true
}

// ctxOrTimeout gives commands a default deadline so a hung tool cannot hang
// the test.
func ctxOrTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, 30*time.Second)
}
