package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/transport"
)

// DefaultStateDir is where Corosync keeps its ring id files unless
// system.state_dir says otherwise.
const DefaultStateDir = "/var/lib/corosync"

// Settings is what the runtime takes from an accepted corosync.conf.
type Settings struct {
	NodeID    uint32
	Members   []transport.Member // the nodelist, sorted by nodeid
	Transport coroconf.Transport // udpu or udp
	Port      uint16             // totem.interface.0.mcastport
	McastAddr netip.Addr         // udp only
	TTL       int                // udp only
	NetMTU    int
	// AllowUnlisted is block_unlisted_ips: no.
	AllowUnlisted bool
	Timing        srp.Timing
	StateDir      string
	Logging       LogSettings
}

// CheckTransport refuses the transports ringfenced does not speak: knet,
// which is also Corosync's default when totem.transport is not set.
func CheckTransport(t coroconf.Transport) error {
	switch t {
	case coroconf.TransportUDPU, coroconf.TransportUDP:
		return nil
	}
	return fmt.Errorf("totem.transport %q is not supported by ringfenced (use udpu or udp)", t)
}

// SettingsFromConfig extracts the runtime settings. Transports we do not
// speak (knet) and nodes we cannot address are refused with a clear error.
func SettingsFromConfig(cfg *coroconf.Config) (Settings, error) {
	s := Settings{NodeID: cfg.NodeID, Transport: cfg.Transport, NetMTU: int(cfg.NetMTU), StateDir: DefaultStateDir, TTL: 1}
	if err := CheckTransport(cfg.Transport); err != nil {
		return s, err
	}
	if s.NodeID == 0 {
		return s, errors.New("no local node id: the local node is not in the nodelist")
	}
	get := func(key string) (cmap.Value, bool) { return cfg.Get(key) }
	if v, ok := get("totem.interface.0.mcastport"); ok {
		if n, ok := v.AsUint64(); ok && n > 0 && n < 65536 {
			s.Port = uint16(n)
		}
	}
	if s.Port == 0 {
		s.Port = transport.DefaultPort
	}
	if v, ok := get("totem.interface.0.ttl"); ok {
		if n, ok := v.AsUint64(); ok && n > 0 {
			s.TTL = int(n)
		}
	}
	if s.NetMTU == 0 {
		s.NetMTU = transport.DefaultNetMTU
	}
	if v, ok := get("system.state_dir"); ok {
		if d, ok := v.AsString(); ok && d != "" {
			s.StateDir = d
		}
	}
	s.AllowUnlisted = !cfg.Timing.BlockUnlistedIPs
	if cfg.Transport == coroconf.TransportUDP {
		if v, ok := get("totem.interface.0.mcastaddr"); ok {
			if a, ok := v.AsString(); ok {
				if p, err := netip.ParseAddr(a); err == nil {
					s.McastAddr = p
				}
			}
		}
		if !s.McastAddr.IsValid() {
			name, _ := get("totem.cluster_name")
			cn, _ := name.AsString()
			s.McastAddr = transport.McastAddrForCluster(cn)
		}
	}
	members, err := nodelistMembers(cfg.Entries)
	if err != nil {
		return s, err
	}
	s.Members = members
	if _, ok := s.Local(); !ok {
		return s, fmt.Errorf("local node id %d has no ring0_addr in the nodelist", s.NodeID)
	}
	t := cfg.Timing
	ms := func(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
	s.Timing = srp.Timing{
		Token:                      ms(t.Token),
		TokenRetransmit:            ms(t.TokenRetransmit),
		Hold:                       ms(t.Hold),
		Join:                       ms(t.Join),
		Consensus:                  ms(t.Consensus),
		Merge:                      ms(t.Merge),
		FailRecvConst:              int(t.FailRecvConst),
		SeqnoUnchangedConst:        int(t.SeqnoUnchangedConst),
		MaxMessages:                int(t.MaxMessages),
		WindowSize:                 int(t.WindowSize),
		MissCountConst:             int(t.MissCountConst),
		TokenRetransmitsBeforeLoss: int(t.TokenRetransmitsBeforeLoss),
		TokenWarning:               int(t.TokenWarning),
	}
	s.Logging = logSettingsFromEntries(cfg.Entries)
	return s, nil
}

// Local returns this node's nodelist entry.
func (s Settings) Local() (transport.Member, bool) {
	for _, m := range s.Members {
		if m.NodeID == s.NodeID {
			return m, true
		}
	}
	return transport.Member{}, false
}

// NodeIDs lists the nodelist's nodeids.
func (s Settings) NodeIDs() []uint32 {
	ids := make([]uint32, len(s.Members))
	for i, m := range s.Members {
		ids[i] = m.NodeID
	}
	return ids
}

// nodelistMembers reads nodelist.node.<n>.{nodeid,ring0_addr}. A node
// without a nodeid gets the one Corosync derives from an IPv4 address.
func nodelistMembers(entries []cmap.Entry) ([]transport.Member, error) {
	type slot struct {
		id   uint32
		addr string
	}
	slots := map[int]*slot{}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Key, "nodelist.node.")
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		if slots[n] == nil {
			slots[n] = &slot{}
		}
		switch field {
		case "nodeid":
			if v, ok := e.Value.AsUint64(); ok {
				slots[n].id = uint32(v)
			}
		case "ring0_addr":
			slots[n].addr, _ = e.Value.AsString()
		}
	}
	var out []transport.Member
	seen := map[uint32]bool{}
	for n, sl := range slots {
		if sl.addr == "" {
			return nil, fmt.Errorf("nodelist.node.%d has no ring0_addr", n)
		}
		addr, err := resolve(sl.addr)
		if err != nil {
			return nil, fmt.Errorf("nodelist.node.%d.ring0_addr: %w", n, err)
		}
		id := sl.id
		if id == 0 {
			if !addr.Is4() {
				return nil, fmt.Errorf("nodelist.node.%d needs a nodeid (ring0_addr %s is not IPv4)", n, addr)
			}
			b := addr.As4()
			id = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		}
		if seen[id] {
			return nil, fmt.Errorf("nodeid %d appears twice in the nodelist", id)
		}
		seen[id] = true
		out = append(out, transport.Member{NodeID: id, Addr: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("the nodelist is empty: ringfenced needs one for udpu and udp")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out, nil
}

// lookupHost resolves nodelist names; tests replace it.
var lookupHost = func(ctx context.Context, name string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
}

func resolve(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := lookupHost(ctx, s)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("cannot resolve %q: %v", s, err)
	}
	// Corosync prefers IPv4 unless ip_version says otherwise.
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return ips[0], nil
}
