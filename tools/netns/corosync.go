package netns

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DaemonEnv names the environment variable that replaces the corosync
// command line, e.g. RINGFENCE_DAEMON="bin/ringfenced" (split on spaces).
// The daemon is started as DAEMON -f -c CONF either way, so the same tests
// and benchmarks measure Corosync and Ringfence.
const DaemonEnv = "RINGFENCE_DAEMON"

// DaemonCommand is the command prefix for the cluster daemon.
func DaemonCommand() []string {
	if v := strings.Fields(os.Getenv(DaemonEnv)); len(v) > 0 {
		return v
	}
	return []string{"corosync"}
}

// CorosyncOptions shapes the generated corosync.conf.
type CorosyncOptions struct {
	Transport   string // "udpu" (default) or "udp"
	Token       int    // totem.token in ms (default 1000)
	ClusterName string // default "ringfence"
	Debug       bool   // logging.debug: on
	// Nodes limits the nodelist to these host indices (default: all).
	Nodes []int
	// TotemExtra and QuorumExtra are raw lines added to those sections.
	TotemExtra, QuorumExtra []string
	// Daemon replaces DaemonCommand() for StartRing and MeasureFailover.
	Daemon []string
}

// CorosyncConf renders a corosync.conf with every host in the nodelist
// (nodeid = host index). Each key is on its own line: corosync's parser
// rejects "node { ring0_addr: x }" written on one line.
func (c *Cluster) CorosyncConf(o CorosyncOptions) string {
	if o.Transport == "" {
		o.Transport = "udpu"
	}
	if o.Token == 0 {
		o.Token = 1000
	}
	if o.ClusterName == "" {
		o.ClusterName = "ringfence"
	}
	nodes := o.Nodes
	if len(nodes) == 0 {
		for _, h := range c.Hosts {
			nodes = append(nodes, h.Index)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: %s\n\ttoken: %d\n", o.ClusterName, o.Transport, o.Token)
	b.WriteString("\tcrypto_cipher: none\n\tcrypto_hash: none\n")
	for _, l := range o.TotemExtra {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	debug := "off"
	if o.Debug {
		debug = "on"
	}
	fmt.Fprintf(&b, "}\nlogging {\n\tto_stderr: yes\n\tto_syslog: no\n\tto_logfile: no\n\ttimestamp: hires\n\tdebug: %s\n}\n", debug)
	b.WriteString("quorum {\n\tprovider: corosync_votequorum\n")
	for _, l := range o.QuorumExtra {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	b.WriteString("}\nnodelist {\n")
	for _, i := range nodes {
		fmt.Fprintf(&b, "\tnode {\n\t\tname: node%d\n\t\tnodeid: %d\n\t\tring0_addr: %s\n\t}\n", i, i, HostAddr(i))
	}
	b.WriteString("}\n")
	return b.String()
}

// WriteCorosyncConf writes the config into the cluster directory (which
// every host sees) and returns its path.
func (c *Cluster) WriteCorosyncConf(o CorosyncOptions) (string, error) {
	path := filepath.Join(c.dir, "corosync.conf")
	return path, os.WriteFile(path, []byte(c.CorosyncConf(o)), 0o644)
}

// StartDaemon starts DAEMON -f -c conf on the host, where DAEMON is
// daemon if given, else DaemonCommand().
func (h *Host) StartDaemon(conf string, daemon ...string) (*Proc, error) {
	if len(daemon) == 0 {
		daemon = DaemonCommand()
	}
	argv := append(append([]string{}, daemon...), "-f", "-c", conf)
	return h.Start("daemon", argv...)
}

// Members asks the daemon on h for the current membership: the nodeids
// whose runtime.members.<id>.status is "joined".
func (h *Host) Members(ctx context.Context) ([]uint32, error) {
	out, err := h.Run(ctx, "corosync-cmapctl", "runtime.members.")
	if err != nil {
		return nil, err
	}
	return ParseJoinedMembers(out), nil
}

// ParseJoinedMembers reads `corosync-cmapctl runtime.members.` output.
func ParseJoinedMembers(out string) []uint32 {
	var ids []uint32
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " = ")
		if !ok || val != "joined" {
			continue
		}
		rest, ok := strings.CutPrefix(key, "runtime.members.")
		if !ok {
			continue
		}
		idStr, field, ok := strings.Cut(rest, ".")
		if !ok || !strings.HasPrefix(field, "status ") {
			continue
		}
		if id, err := strconv.ParseUint(idStr, 10, 32); err == nil {
			ids = append(ids, uint32(id))
		}
	}
	slices.Sort(ids)
	return ids
}

// StatsCounter reads one u64 counter of the stats map, e.g.
// "stats.srp.memb_join_rx".
func (h *Host) StatsCounter(ctx context.Context, key string) (uint64, error) {
	out, err := h.Run(ctx, "corosync-cmapctl", "-m", "stats", key)
	if err != nil {
		return 0, err
	}
	_, val, ok := strings.Cut(strings.TrimSpace(out), " = ")
	if !ok {
		return 0, fmt.Errorf("unexpected cmapctl output %q", out)
	}
	return strconv.ParseUint(val, 10, 64)
}

// WaitMembers polls h every interval until its membership equals want and
// returns how long that took since start. A failed poll (daemon not up
// yet, IPC refused during sync) just polls again.
func (h *Host) WaitMembers(ctx context.Context, start time.Time, want []uint32, interval time.Duration) (time.Duration, error) {
	want = slices.Sorted(slices.Values(want))
	var last []uint32
	var lastErr error
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := h.Members(pctx)
		cancel()
		if err == nil && slices.Equal(got, want) {
			return time.Since(start), nil
		}
		last, lastErr = got, err
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("host %d: members %v (last error %v), want %v: %w", h.Index, last, lastErr, want, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Indices lists 1..n as nodeids.
func Indices(hosts ...*Host) []uint32 {
	ids := make([]uint32, len(hosts))
	for i, h := range hosts {
		ids[i] = uint32(h.Index)
	}
	return ids
}
