package netns

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Direction selects which of a host's traffic Loss affects.
type Direction int

const (
	// Inbound is what the host receives.
	Inbound Direction = 1 << iota
	// Outbound is what the host sends.
	Outbound
	// Both directions.
	Both = Inbound | Outbound
)

// lossTable names the nftables table Loss installs for the host;
// ClearLoss deletes it. The bridge namespace holds one per host.
func (h *Host) lossTable() string { return fmt.Sprintf("rfloss%d", h.Index) }

// ErrNoNetem is returned by Delay on kernels without sch_netem.
var ErrNoNetem = errors.New("kernel has no sch_netem")

// Loss drops percent (0 < percent <= 100, two decimals) of the host's
// packets in the given directions, replacing an earlier Loss. With netem
// it uses a netem qdisc; without (many small kernels lack sch_netem) it
// installs an nftables rule that drops UDP at random, `numgen random`.
// Either way the packets vanish between the two ends of the veth, as on
// a bad wire: the sender's sendmsg still succeeds (an inet output-hook
// drop would hand it EPERM instead, which is not what loss looks like).
// Outbound loss is taken at the ingress of the host's port in the bridge
// namespace, inbound loss at the ingress of the host's eth0.
func (h *Host) Loss(percent float64, dir Direction) error {
	if percent <= 0 || percent > 100 || dir&Both == 0 {
		return fmt.Errorf("netns: loss %v%% %v: want 0 < percent <= 100 and a direction", percent, dir)
	}
	if err := h.ClearLoss(); err != nil {
		return err
	}
	if h.c.NetemAvailable() == nil {
		arg := fmt.Sprintf("%.2f%%", percent)
		for _, d := range h.devices(dir) {
			if err := tcNetem(d[0], d[1], "loss", arg); err != nil {
				return err
			}
		}
		return nil
	}
	// Basis points, so 0.5% works too.
	bp := int(percent*100 + 0.5)
	for _, d := range h.devices(dir) {
		rules := fmt.Sprintf(`table netdev %s {
	chain lossy {
		type filter hook ingress device %q priority 0; policy accept;
		meta l4proto udp numgen random mod 10000 lt %d counter drop
	}
}
`, h.lossTable(), d[1], bp)
		cmd := exec.Command("ip", "netns", "exec", d[0], "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft in %s: %v: %s", d[0], err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// ClearLoss removes what Loss installed (netem qdiscs or nft tables).
func (h *Host) ClearLoss() error {
	var first error
	for _, d := range h.devices(Both) {
		if _, err := exec.LookPath("nft"); err == nil {
			// Deleting a table that is not there fails; only a failure
			// while it still exists matters.
			if exec.Command("ip", "netns", "exec", d[0], "nft", "list", "table", "netdev", h.lossTable()).Run() == nil {
				if out, err := exec.Command("ip", "netns", "exec", d[0], "nft", "delete", "table", "netdev", h.lossTable()).CombinedOutput(); err != nil && first == nil {
					first = fmt.Errorf("nft delete table in %s: %v: %s", d[0], err, strings.TrimSpace(string(out)))
				}
			}
		}
		// A netem qdisc, if one is there.
		if out, _ := exec.Command("tc", "-n", d[0], "qdisc", "show", "dev", d[1], "root").Output(); strings.Contains(string(out), "netem") {
			if out, err := exec.Command("tc", "-n", d[0], "qdisc", "del", "dev", d[1], "root").CombinedOutput(); err != nil && first == nil {
				first = fmt.Errorf("tc qdisc del: %v: %s", err, strings.TrimSpace(string(out)))
			}
		}
	}
	return first
}

// LossDropped sums the nft drop counters of Loss on this host (zero with
// netem, whose drops tc counts instead). Tests use it to show the loss
// really happened.
func (h *Host) LossDropped() (uint64, error) {
	var total uint64
	for _, d := range h.devices(Both) {
		out, err := exec.Command("ip", "netns", "exec", d[0], "nft", "list", "table", "netdev", h.lossTable()).CombinedOutput()
		if err != nil {
			continue // no loss in this direction
		}
		_, rest, ok := strings.Cut(string(out), "counter packets ")
		if !ok {
			return 0, fmt.Errorf("nft counter missing in %q", out)
		}
		var n uint64
		if _, err := fmt.Sscan(rest, &n); err != nil {
			return 0, fmt.Errorf("nft counter: %v in %q", err, out)
		}
		total += n
	}
	return total, nil
}

// Delay adds d of latency (and jitter, if not zero) in the given
// directions. It needs netem: without it, it returns ErrNoNetem and tests
// should skip.
func (h *Host) Delay(d, jitter time.Duration, dir Direction) error {
	if err := h.c.NetemAvailable(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoNetem, err)
	}
	args := []string{"delay", fmt.Sprintf("%dus", d.Microseconds())}
	if jitter > 0 {
		args = append(args, fmt.Sprintf("%dus", jitter.Microseconds()))
	}
	for _, dev := range h.devices(dir) {
		if err := tcNetem(dev[0], dev[1], args...); err != nil {
			return err
		}
	}
	return nil
}

// LossAvailable reports why Loss cannot work here, or nil: it needs netem
// or the nft command with netdev tables and numgen.
func (c *Cluster) LossAvailable() error {
	if c.NetemAvailable() == nil {
		return nil
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("needs sch_netem or the nft command (Debian package nftables) for packet loss")
	}
	// The probe rule on the bridge namespace's loopback.
	cmd := exec.Command("ip", "netns", "exec", c.bridge, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(`table netdev rfprobe {
	chain c {
		type filter hook ingress device "lo" priority 0; policy accept;
		meta l4proto udp numgen random mod 10000 lt 1 counter drop
	}
}
`)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("no sch_netem and nft cannot drop at random here (%s)", strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "exec", c.bridge, "nft", "delete", "table", "netdev", "rfprobe").Run()
	return nil
}

// devices lists the (namespace, device) pairs whose ingress (nft) or
// egress (netem) carries the direction: outbound is the host's port on
// the bridge for nft but eth0 for netem, and the reverse for inbound.
func (h *Host) devices(dir Direction) [][2]string {
	netem := h.c.NetemAvailable() == nil
	var d [][2]string
	bridgeSide := [2]string{h.c.bridge, h.port}
	hostSide := [2]string{h.NS, "eth0"}
	if dir&Outbound != 0 {
		if netem {
			d = append(d, hostSide) // egress of eth0
		} else {
			d = append(d, bridgeSide) // ingress of the port
		}
	}
	if dir&Inbound != 0 {
		if netem {
			d = append(d, bridgeSide) // egress of the port
		} else {
			d = append(d, hostSide) // ingress of eth0
		}
	}
	return d
}

// tcNetem replaces the root qdisc of dev in ns with netem args.
func tcNetem(ns, dev string, args ...string) error {
	a := append([]string{"-n", ns, "qdisc", "replace", "dev", dev, "root", "netem"}, args...)
	if out, err := exec.Command("tc", a...).CombinedOutput(); err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(a, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
