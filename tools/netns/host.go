package netns

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Host is one machine of the cluster: a network namespace with eth0 on the
// bridge and a mount namespace kept alive by a holder process.
type Host struct {
	c     *Cluster
	Index int        // 1-based
	NS    string     // network namespace name
	Addr  netip.Addr // address on eth0 (/15)
	port  string     // the veth end on the bridge
	// holder keeps the mount namespace alive; every process on the host
	// enters its mount and network namespaces.
	holder *Proc
}

// tmpfsDirs are covered on every host: /run for corosync's pid file and
// the IPC control files, /var/lib/corosync for ringid_<nodeid>.
var tmpfsDirs = []string{"/run", "/var/lib/corosync"}

func (h *Host) build(opts Options) error {
	br := h.c.bridge
	if err := ipCmd("netns", "add", h.NS); err != nil {
		return err
	}
	// One ip process per namespace: each spawn costs tens of ms here.
	if err := ipBatch(br,
		fmt.Sprintf("link add %s type veth peer name eth0 netns %s", h.port, h.NS),
		fmt.Sprintf("link set %s master br0 up", h.port),
	); err != nil {
		return err
	}
	if err := ipBatch(h.NS,
		"link set lo up",
		fmt.Sprintf("addr add %s/15 dev eth0", h.Addr),
		"link set eth0 up",
	); err != nil {
		return err
	}
	return h.startHolder(opts)
}

func (h *Host) startHolder(opts Options) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, d := range append(append([]string{}, tmpfsDirs...), opts.ExtraTmpfs...) {
		// Only cover directories that exist: creating one here would
		// create it on the real file system.
		fmt.Fprintf(&script, "if [ -d %[1]s ]; then mount -t tmpfs -o mode=0755 tmpfs %[1]s; fi\n", d)
	}
	script.WriteString("mkdir -p /run/lock\necho ready\nexec sleep infinity\n")
	cmd := exec.Command("ip", "netns", "exec", h.NS, "unshare", "-m", "--propagation", "private", "sh", "-c", script.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	logPath := filepath.Join(h.c.dir, fmt.Sprintf("h%d-holder.log", h.Index))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := newProc(h, "holder", cmd, logPath, logf)
	p.holder = true
	h.holder = p
	h.c.track(p)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("mount namespace setup failed (%q, %v): %s", line, err, tail(logPath, 5))
	}
	return nil
}

// nsenterArgs prefixes argv so it runs in the host's namespaces. nsenter
// execs the program, so the pid it gets is the program's own.
func (h *Host) nsenterArgs(argv []string) []string {
	return append([]string{"-t", strconv.Itoa(h.holder.Pid), "-m", "-n", "--"}, argv...)
}

// Command builds an exec.Cmd that runs argv on the host.
func (h *Host) Command(ctx context.Context, argv ...string) *exec.Cmd {
	if ctx == nil {
		ctx = context.Background()
	}
	cmd := exec.CommandContext(ctx, "nsenter", h.nsenterArgs(argv)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Run runs argv on the host and returns its combined output. Without a
// deadline in ctx the command gets 30 s.
func (h *Host) Run(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	out, err := h.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), h.NS, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Start starts argv on the host in the background. Its stdout and stderr
// go to a log file in the cluster directory; the process is killed by the
// cluster's cleanup.
func (h *Host) Start(name string, argv ...string) (*Proc, error) {
	logPath := filepath.Join(h.c.dir, fmt.Sprintf("h%d-%s.log", h.Index, name))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nsenter", h.nsenterArgs(argv)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s on %s: %w", name, h.NS, err)
	}
	p := newProc(h, name, cmd, logPath, logf)
	h.c.track(p)
	return p, nil
}

// Do runs fn on an OS thread that is inside the host's network namespace,
// so sockets fn opens belong to the host (they keep working from any
// goroutine afterwards). The mount namespace is not entered.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked when switching back fails, so the
		// runtime retires it instead of reusing it in the wrong namespace.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", h.NS, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w (thread retired)", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Cut takes the host's link to the bridge down: nothing in or out.
func (h *Host) Cut() error { return ipCmd("-n", h.c.bridge, "link", "set", h.port, "down") }

// Heal brings the link back.
func (h *Host) Heal() error { return ipCmd("-n", h.c.bridge, "link", "set", h.port, "up") }

// Block drops what h sends to other (one direction) with a blackhole
// route; Unblock removes it. Two Blocks make a symmetric cut between two
// hosts while both keep talking to the rest.
func (h *Host) Block(other *Host) error {
	return ipCmd("-n", h.NS, "route", "add", "blackhole", other.Addr.String()+"/32")
}

// Unblock undoes Block.
func (h *Host) Unblock(other *Host) error {
	return ipCmd("-n", h.NS, "route", "del", "blackhole", other.Addr.String()+"/32")
}

// Netem applies a netem qdisc (e.g. "delay", "20ms", "loss", "5%") to both
// directions of the host's link. Check NetemAvailable first.
func (h *Host) Netem(args ...string) error {
	for _, dev := range [][2]string{{h.c.bridge, h.port}, {h.NS, "eth0"}} {
		if err := tcNetem(dev[0], dev[1], args...); err != nil {
			return err
		}
	}
	return nil
}

// ClearNetem removes what Netem added.
func (h *Host) ClearNetem() error {
	var first error
	for _, dev := range [][2]string{{h.c.bridge, h.port}, {h.NS, "eth0"}} {
		if out, err := exec.Command("tc", "-n", dev[0], "qdisc", "del", "dev", dev[1], "root").CombinedOutput(); err != nil && first == nil {
			first = fmt.Errorf("tc qdisc del: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	return first
}

// NetemAvailable reports why netem cannot be used, or nil. It tries a
// qdisc on the bridge namespace's loopback, once per cluster.
func (c *Cluster) NetemAvailable() error {
	c.netemOnce.Do(func() {
		if _, err := exec.LookPath("tc"); err != nil {
			c.netemErr = fmt.Errorf("needs tc for netem")
			return
		}
		out, err := exec.Command("tc", "-n", c.bridge, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms").CombinedOutput()
		if err != nil {
			c.netemErr = fmt.Errorf("kernel has no sch_netem (%s)", strings.TrimSpace(string(out)))
			return
		}
		_ = exec.Command("tc", "-n", c.bridge, "qdisc", "del", "dev", "lo", "root").Run()
	})
	return c.netemErr
}
