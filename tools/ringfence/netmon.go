package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
)

// netmonPrefix is where the daemon publishes the heartbeat figures
// (exec/node/heartbeat.go): runtime.heartbeat.<nodeid>.link<N>.<field>.
const netmonPrefix = "runtime.heartbeat."

// netmonRow is one peer on one link.
type netmonRow struct {
	Node, Link uint32
	Fields     map[string]string
}

// parseNetmonKey splits runtime.heartbeat.<nodeid>.link<N>.<field>.
func parseNetmonKey(key string) (node, link uint32, field string, err error) {
	rest, ok := strings.CutPrefix(key, netmonPrefix)
	if !ok {
		return 0, 0, "", fmt.Errorf("netmon: %q is not a heartbeat key", key)
	}
	parts := strings.SplitN(rest, ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		return 0, 0, "", fmt.Errorf("netmon: malformed key %q", key)
	}
	n, err := strconv.ParseUint(parts[0], 10, 32)
	if err != nil || n == 0 {
		return 0, 0, "", fmt.Errorf("netmon: bad nodeid in %q", key)
	}
	ls, ok := strings.CutPrefix(parts[1], "link")
	l, lerr := strconv.ParseUint(ls, 10, 8)
	if !ok || lerr != nil {
		return 0, 0, "", fmt.Errorf("netmon: bad link in %q", key)
	}
	return uint32(n), uint32(l), parts[2], nil
}

// netmonRows groups key/value pairs into sorted rows; keys that are not
// per-link figures (runtime.heartbeat.mode) are returned in other.
func netmonRows(kv map[string]string) (rows []netmonRow, other map[string]string) {
	other = map[string]string{}
	idx := map[[2]uint32]int{}
	for k, v := range kv {
		n, l, f, err := parseNetmonKey(k)
		if err != nil {
			other[strings.TrimPrefix(k, netmonPrefix)] = v
			continue
		}
		i, ok := idx[[2]uint32{n, l}]
		if !ok {
			i = len(rows)
			idx[[2]uint32{n, l}] = i
			rows = append(rows, netmonRow{Node: n, Link: l, Fields: map[string]string{}})
		}
		rows[i].Fields[f] = v
	}
	slices.SortFunc(rows, func(a, b netmonRow) int {
		if a.Node != b.Node {
			return int(a.Node) - int(b.Node)
		}
		return int(a.Link) - int(b.Link)
	})
	return rows, other
}

func renderNetmon(w io.Writer, rows []netmonRow, other map[string]string) {
	if m := other["mode"]; m != "" {
		fmt.Fprintf(w, "heartbeat answered by %s\n", m)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "NODE\tLINK\tADDRESS\tRTT\tLOSS\tLAST SEEN\tSENT\tANSWERS\tSTATE\t")
	for _, r := range rows {
		f := r.Fields
		rtt := "-"
		if us, err := strconv.ParseUint(f["rtt_us"], 10, 64); err == nil && us > 0 {
			rtt = (time.Duration(us) * time.Microsecond).String()
		}
		loss := "-"
		if pm, err := strconv.ParseUint(f["loss_permille"], 10, 32); err == nil {
			loss = fmt.Sprintf("%.1f%%", float64(pm)/10)
		}
		seen := "never"
		if ms, err := strconv.ParseInt(f["last_seen_ms"], 10, 64); err == nil && ms >= 0 {
			seen = (time.Duration(ms) * time.Millisecond).String()
		}
		state := "up"
		switch {
		case f["ringfenced"] != "1":
			state = "not ringfenced"
		case f["reachable"] != "1":
			state = "UNREACHABLE"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Node, r.Link, f["addr"], rtt, loss, seen, f["sent"], f["answers"], state)
	}
	tw.Flush()
}

// netmonRead fetches every heartbeat key from the daemon's cmap.
func netmonRead(c *cmapsvc.Client) (map[string]string, error) {
	keys, err := c.Iter(netmonPrefix)
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, k := range keys {
		v, err := c.Get(k.Key)
		if err != nil {
			continue // removed meanwhile
		}
		kv[k.Key] = cmap.FormatValue(v)
	}
	return kv, nil
}

// netmon prints the per-peer, per-link heartbeat figures of the local
// daemon: once (the default) or refreshed every -i with -w.
func netmon(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netmon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	watch := fs.Bool("w", false, "live view: refresh until interrupted")
	every := fs.Duration("i", time.Second, "refresh interval with -w")
	prefix := fs.String("prefix", os.Getenv("RINGFENCE_IPC_PREFIX"), "IPC service name prefix (test instances)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := cmapsvc.DialService(*prefix+cmapsvc.ServiceName, 0)
	if err != nil {
		fmt.Fprintln(stderr, "netmon: cannot reach the cluster daemon's cmap:", err)
		return 1
	}
	defer c.Close()
	c.Timeout = 5 * time.Second
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	for {
		kv, err := netmonRead(c)
		if err != nil {
			fmt.Fprintln(stderr, "netmon:", err)
			return 1
		}
		rows, other := netmonRows(kv)
		if *watch {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J")
			fmt.Fprintf(stdout, "ringfence netmon  %s  (every %v, Ctrl-C to stop)\n", time.Now().Format("15:04:05"), *every)
		}
		if len(rows) == 0 {
			if !*watch {
				fmt.Fprintln(stderr, "netmon: no heartbeat figures (heartbeat off, corosync, or not published yet)")
				return 1
			}
		}
		renderNetmon(stdout, rows, other)
		if !*watch {
			return 0
		}
		select {
		case <-stop:
			return 0
		case <-time.After(*every):
		}
	}
}
