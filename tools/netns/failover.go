package netns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// PollInterval is how often the measurements ask a host for its members.
const PollInterval = 50 * time.Millisecond

// StartRing writes the config, starts the daemon on every host and waits
// until each lists every node. formed is how long host 1 (polled first)
// took, counted from the first start.
func (c *Cluster) StartRing(ctx context.Context, o CorosyncOptions) (conf string, procs []*Proc, formed time.Duration, err error) {
	conf, err = c.WriteCorosyncConf(o)
	if err != nil {
		return "", nil, 0, err
	}
	start := time.Now()
	procs = make([]*Proc, len(c.Hosts))
	for i, h := range c.Hosts {
		if procs[i], err = h.StartDaemon(conf, o.Daemon...); err != nil {
			return conf, procs, 0, err
		}
	}
	all := Indices(c.Hosts...)
	for i, h := range c.Hosts {
		d, err := h.WaitMembers(ctx, start, all, PollInterval)
		if err != nil {
			return conf, procs, 0, fmt.Errorf("ring did not form: %w", err)
		}
		if i == 0 {
			formed = d
		}
	}
	return conf, procs, formed, nil
}

// Failover holds one round of measurements, each as seen from host 1.
//
// Each figure is taken from host 1's log: the timestamp of its last "A
// new membership (" notice (corosync and ringfenced both print it when
// the ring enters OPERATIONAL) before the poll that saw the wanted
// members, minus the moment of the event. Polling alone adds the poll
// interval and the start of corosync-cmapctl in the namespace (tens of
// ms, more on a loaded machine) to every figure; Polled keeps those
// values. When the log has no such notice the polled value stands.
type Failover struct {
	Nodes int
	// Form: start of all daemons → host 1 lists every node.
	Form time.Duration
	// Kill: SIGKILL of the last node's daemon → host 1 lists the others.
	Kill time.Duration
	// Rejoin: restart of that daemon → host 1 lists every node.
	Rejoin time.Duration
	// Cut: the last node's link down → host 1 lists the others. The
	// clock starts when the command goes to an ip process started
	// beforehand (see armCut).
	Cut time.Duration
	// Heal: link up again (command returned) → host 1 lists every node.
	// The link comes back as soon as host 1 lists the others, while the
	// cut node may still be forming its own ring.
	Heal time.Duration
	// Settled: the same after a second cut, healed only once both sides
	// have their ring (host 1 lists the others, the cut node itself).
	Settled time.Duration
	// Polled holds the same figures as the membership polls saw them.
	Polled struct{ Form, Kill, Rejoin, Cut, Heal, Settled time.Duration }
	// KillAt and CutAt are the wall-clock moments of the SIGKILL and the
	// cut, to line them up with the daemons' log timestamps.
	KillAt, CutAt time.Time
	// CutCmd is how long the armed cut took to confirm (see armCut).
	CutCmd time.Duration
}

func (f Failover) String() string {
	return fmt.Sprintf("%d nodes: form %.2fs, SIGKILL %.2fs, rejoin %.2fs, link cut %.2fs, heal %.2fs, settled heal %.2fs (polled: %.2fs %.2fs %.2fs %.2fs %.2fs %.2fs)",
		f.Nodes, f.Form.Seconds(), f.Kill.Seconds(), f.Rejoin.Seconds(), f.Cut.Seconds(), f.Heal.Seconds(), f.Settled.Seconds(),
		f.Polled.Form.Seconds(), f.Polled.Kill.Seconds(), f.Polled.Rejoin.Seconds(), f.Polled.Cut.Seconds(), f.Polled.Heal.Seconds(), f.Polled.Settled.Seconds())
}

// membershipNotice is what both daemons log when a ring is installed.
const membershipNotice = "A new membership ("

// LogFormed returns the time of the last membership notice in the log at
// path that lies in [from, to], read from the hires timestamp that starts
// each line ("Nov 23 13:19:56.047 ..."), in local time.
func LogFormed(path string, from, to time.Time) (time.Time, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	var found time.Time
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) < 19 || !strings.Contains(line, membershipNotice) {
			continue
		}
		t, err := time.ParseInLocation("Jan _2 15:04:05.000", line[:19], time.Local)
		if err != nil {
			continue
		}
		t = t.AddDate(from.Year(), 0, 0)
		// Log stamps have ms resolution: allow one ms before from.
		if t.Before(from.Add(-time.Millisecond)) || t.After(to) {
			continue
		}
		found = t
	}
	return found, !found.IsZero()
}

// MeasureFailover runs one round on an already built cluster with no
// daemons running: form, kill and restart the last node, cut and heal its
// link. Each wait gives up after timeout.
func (c *Cluster) MeasureFailover(o CorosyncOptions, timeout time.Duration) (Failover, error) {
	n := len(c.Hosts)
	r := Failover{Nodes: n}
	if n < 2 {
		return r, fmt.Errorf("netns: failover needs 2 or more hosts")
	}
	observer, victim := c.Hosts[0], c.Hosts[n-1]
	all, rest := Indices(c.Hosts...), Indices(c.Hosts[:n-1]...)
	var obsLog string
	// wait polls host 1 until it lists want, and returns the time from
	// start to its membership notice (or to the poll, see Failover).
	wait := func(start time.Time, want []uint32, polled *time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		d, err := observer.WaitMembers(ctx, start, want, PollInterval)
		*polled = d
		if err != nil {
			return d, err
		}
		if t, ok := LogFormed(obsLog, start, time.Now()); ok {
			return max(t.Sub(start), 0), nil
		}
		return d, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	begin := time.Now()
	conf, procs, formed, err := c.StartRing(ctx, o)
	cancel()
	if err != nil {
		return r, err
	}
	obsLog = procs[0].LogPath
	r.Form, r.Polled.Form = formed, formed
	if t, ok := LogFormed(obsLog, begin, begin.Add(formed)); ok {
		r.Form = t.Sub(begin)
	}

	start := time.Now()
	r.KillAt = start
	if err := procs[n-1].Kill(); err != nil {
		return r, err
	}
	if r.Kill, err = wait(start, rest, &r.Polled.Kill); err != nil {
		return r, fmt.Errorf("after SIGKILL: %w", err)
	}
	start = time.Now()
	if _, err := victim.StartDaemon(conf, o.Daemon...); err != nil {
		return r, err
	}
	if r.Rejoin, err = wait(start, all, &r.Polled.Rejoin); err != nil {
		return r, fmt.Errorf("after restart: %w", err)
	}
	cut, err := victim.armCut()
	if err != nil {
		return r, err
	}
	start = time.Now()
	r.CutAt = start
	if err := cut(); err != nil {
		return r, err
	}
	r.CutCmd = time.Since(start)
	if r.Cut, err = wait(start, rest, &r.Polled.Cut); err != nil {
		return r, fmt.Errorf("after link cut: %w", err)
	}
	if err := victim.Heal(); err != nil {
		return r, err
	}
	start = time.Now()
	if r.Heal, err = wait(start, all, &r.Polled.Heal); err != nil {
		return r, fmt.Errorf("after heal: %w", err)
	}

	// The same cut again, healed once both sides have settled.
	if cut, err = victim.armCut(); err != nil {
		return r, err
	}
	start = time.Now()
	if err := cut(); err != nil {
		return r, err
	}
	var ignored time.Duration
	if _, err = wait(start, rest, &ignored); err != nil {
		return r, fmt.Errorf("after the second cut: %w", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), timeout)
	_, err = victim.WaitMembers(ctx, start, []uint32{uint32(victim.Index)}, PollInterval)
	cancel()
	if err != nil {
		return r, fmt.Errorf("cut node alone: %w", err)
	}
	if err := victim.Heal(); err != nil {
		return r, err
	}
	start = time.Now()
	if r.Settled, err = wait(start, all, &r.Polled.Settled); err != nil {
		return r, fmt.Errorf("after the settled heal: %w", err)
	}
	return r, nil
}

// armCut starts `ip -batch` in the bridge's namespace ahead of time and
// returns the function that cuts h's link through it. Starting ip on a
// machine loaded by 32 daemons takes tens of ms, during which the link is
// still up; with the process waiting on its input, the cut follows the
// written line within a wake-up, so the clock starts at the cut. The
// function returns once ip has exited (the link is down by then).
func (h *Host) armCut() (func() error, error) {
	cmd := exec.Command("ip", "-n", h.c.bridge, "-batch", "-")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// A started ip may still be loading: have it show the link and wait
	// for the answer, so that it sits on its input when the cut goes in.
	if _, err := io.WriteString(in, "link show "+h.port+"\n"); err != nil {
		return nil, err
	}
	rd := bufio.NewReader(stdout)
	if line, err := rd.ReadString('\n'); err != nil || !strings.Contains(line, h.port) {
		in.Close()
		cmd.Wait()
		return nil, fmt.Errorf("ip link show %s: %q %v: %s", h.port, line, err, bytes.TrimSpace(out.Bytes()))
	}
	go io.Copy(io.Discard, rd)
	return func() error {
		_, werr := io.WriteString(in, "link set "+h.port+" down\n")
		in.Close()
		if err := cmd.Wait(); err != nil || werr != nil {
			return fmt.Errorf("ip link set %s down: %v %v: %s", h.port, err, werr, bytes.TrimSpace(out.Bytes()))
		}
		return nil
	}, nil
}
