package coroconf

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"strings"
	"syscall"

	"github.com/ringfence/ringfence/cmap"
)

// Transport is totem.transport.
type Transport string

const (
	TransportKnet Transport = "knet"
	TransportUDPU Transport = "udpu"
	TransportUDP  Transport = "udp"
)

// Defaults and limits of exec/totemconfig.c (HZ is 100 on Linux, so
// 1000/HZ is 10 ms).
const (
	interfaceMax      = 8
	knetMaxHost       = 65536
	knetMaxPacketSize = 65536
	udpNetMTU         = 1500
	defaultPort       = 5405
	minimumTimeout    = 30                                   // 3 * 1000/HZ
	minimumTimeoutHld = int64(minimumTimeout*0.8 - 1000/100) // 14
	knetPongCount     = 2
	knetPingPrecision = 2048
	privateKeyMin     = 128
	privateKeyMax     = 4096
	linkModeBytes     = 64
)

type linkConfig struct {
	configured   bool
	bindnet      netip.Addr
	mcast        netip.Addr
	port         uint16
	ttl          uint32
	linkPriority uint32
	pingInterval uint32
	pingTimeout  uint32
	pongCount    uint32
	members      []member
}

type member struct {
	addr   netip.Addr
	nodeID uint32
}

// Timing holds the effective totem timers and counters (the values
// corosync exports as runtime.config.totem.*). Times are milliseconds.
type Timing struct {
	Token, TokenWarning, TokenRetransmit, Hold, TokenRetransmitsBeforeLoss uint32
	Join, SendJoin, Consensus, Merge, Downcheck                            uint32
	FailRecvConst, SeqnoUnchangedConst, MaxNetworkDelay                    uint32
	WindowSize, MaxMessages, MissCountConst, HeartbeatFailuresAllowed      uint32
	BlockUnlistedIPs, CancelTokenHoldOnRetransmit                          bool
}

// totemState is corosync's struct totem_config as far as the checks need it.
type totemState struct {
	transport    Transport
	version      uint32
	cipher, hash string
	linkMode     string
	clearHigh    bool
	ipVer        ipVersion
	nodeID       uint32
	broadcast    bool
	netMTU       uint32
	links        [interfaceMax]linkConfig
	timing       Timing
	// corosync's TOTEM_CONFIG_WARNING_* flags
	warnTotemNodeID, warnBindnetNodelist, warnMembersIgnored, warnMembersDeprecated bool
}

// totemErr is a rejection by totem_config_read/validate. key points at the
// config line to blame.
type totemErr struct {
	key      string
	msg      string // our one-line wording
	corosync string // what corosync logs
}

func framed(reason string) *totemErr {
	return &totemErr{msg: reason, corosync: "parse error in config: " + reason}
}

type totemReader struct {
	m   *cmap.Store
	env *Env
	t   totemState
}

func (r *totemReader) str(k string) (string, bool) {
	v, err := r.m.GetString(k)
	return v, err == nil
}

func (r *totemReader) u32(k string) (uint32, bool) {
	v, err := r.m.GetUint32(k)
	return v, err == nil
}

// read is totem_config_read.
func (r *totemReader) read() *totemErr {
	t := &r.t
	t.transport = TransportKnet
	if s, ok := r.str("totem.transport"); ok {
		switch Transport(s) {
		case TransportUDPU, TransportUDP, TransportKnet:
			t.transport = Transport(s)
		default:
			return &totemErr{key: "totem.transport", msg: "Invalid transport type. Should be udpu, udp or knet",
				corosync: "Invalid transport type. Should be udpu, udp or knet"}
		}
	}
	t.linkMode = "passive"
	t.version, _ = r.u32("totem.version")
	if e := r.readCrypto(); e != nil {
		return e
	}
	if s, ok := r.str("totem.link_mode"); ok {
		if len(s) >= linkModeBytes {
			return &totemErr{key: "totem.link_mode", msg: "totem.link_mode is too long", corosync: "totem.link_mode is too long"}
		}
		t.linkMode = s
	}
	_, t.warnTotemNodeID = r.u32("totem.nodeid")
	if s, ok := r.str("totem.clear_node_high_bit"); ok && s == "yes" {
		t.clearHigh = true
	}
	t.netMTU, _ = r.u32("totem.netmtu")
	t.ipVer = ipv6then4
	if t.transport == TransportUDP {
		t.ipVer = ipv4
	}
	if s, ok := r.str("totem.ip_version"); ok {
		switch s {
		case "ipv4":
			t.ipVer = ipv4
		case "ipv6":
			t.ipVer = ipv6
		case "ipv6-4":
			t.ipVer = ipv6then4
		case "ipv4-6":
			t.ipVer = ipv4then6
		}
	}

	_, hasBind := r.str("totem.interface.0.bindnetaddr")
	_, hasRing0 := r.str("nodelist.node.0.ring0_addr")
	if !hasBind || hasRing0 {
		t.warnBindnetNodelist = hasBind
		r.nodelistToInterface()
	}
	if e := r.interfaceParams(); e != nil {
		return e
	}
	if t.broadcast {
		t.links[0].mcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	if t.transport == TransportUDP {
		for i := range t.links {
			l := &t.links[i]
			if !l.configured {
				continue
			}
			k := fmt.Sprintf("totem.interface.%d.mcastaddr", i)
			if _, ok := r.str(k); !ok {
				_ = r.m.Set(k, cmap.Str(printAddr(l.mcast)))
			}
			k = fmt.Sprintf("totem.interface.%d.mcastport", i)
			if _, err := r.m.GetUint16(k); err != nil {
				_ = r.m.Set(k, cmap.U16(l.port))
			}
		}
	}

	_, hasName := r.str("nodelist.node.0.name")
	if hasName || hasRing0 {
		if pos, ok := r.findLocalNode(); ok {
			t.nodeID, _ = r.u32(fmt.Sprintf("nodelist.node.%d.nodeid", pos))
			if t.transport == TransportKnet && t.nodeID == 0 {
				return &totemErr{key: "nodelist", msg: "Knet requires an explicit nodeid for the local node",
					corosync: "Knet requires an explicit nodeid for the local node"}
			}
			if t.transport != TransportKnet && t.nodeID == 0 {
				ring0, _ := r.str(fmt.Sprintf("nodelist.node.%d.ring0_addr", pos))
				id, ok := r.generateNodeID(ring0)
				if !ok {
					return &totemErr{key: fmt.Sprintf("nodelist.node.%d.ring0_addr", pos),
						msg:      "An IPV6 network requires that a node ID be specified",
						corosync: "An IPV6 network requires that a node ID be specified"}
				}
				t.nodeID = id
			}
		}
		if e := r.nodelistMembers(); e != nil {
			return e
		}
	}
	r.volatileRead()
	r.knetPingTimers()
	return nil
}

func (r *totemReader) readCrypto() *totemErr {
	t := &r.t
	cipher, hash := "none", "none"
	if s, ok := r.str("totem.secauth"); ok && s == "on" {
		cipher, hash = "aes256", "sha256"
	}
	if s, ok := r.str("totem.crypto_cipher"); ok && oneOf(s, "none", "aes256", "aes192", "aes128") {
		cipher = s
	}
	if s, ok := r.str("totem.crypto_hash"); ok && oneOf(s, "none", "md5", "sha1", "sha256", "sha384", "sha512") {
		hash = s
	}
	if cipher != "none" && hash == "none" {
		return &totemErr{key: "totem.crypto_cipher", msg: "crypto_cipher requires crypto_hash with value other than none",
			corosync: "crypto_cipher requires crypto_hash with value other than none"}
	}
	t.cipher, t.hash = cipher, hash
	if cipher == "none" && hash == "none" {
		return nil
	}
	// totem_config_keyread: the key comes from totem.keyfile, totem.key or
	// the default authkey file.
	keyErr := func(k, s string) *totemErr {
		return &totemErr{key: k, msg: s, corosync: s}
	}
	if path, ok := r.str("totem.keyfile"); ok {
		return r.readKeyFile(path, "totem.keyfile")
	}
	if v, err := r.m.Get("totem.key"); err == nil {
		switch n := v.Len(); {
		case n > privateKeyMax:
			return keyErr("totem.key", "key is too long")
		case n < privateKeyMin:
			return keyErr("totem.key", "key is too short")
		}
		return nil
	}
	return r.readKeyFile(r.env.AuthKeyPath, "totem.crypto_cipher")
}

// cStrerror renders an errno like C's strerror (Go's texts are lower case).
func cStrerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (r *totemReader) readKeyFile(path, key string) *totemErr {
	data, err := r.env.ReadFile(path)
	if err != nil {
		s := fmt.Sprintf("Could not open %s: %s", path, cStrerror(err))
		return &totemErr{key: key, msg: s, corosync: s}
	}
	n := len(data)
	if n > privateKeyMax {
		n = privateKeyMax
	}
	if n < privateKeyMin {
		s := fmt.Sprintf("Could only read %d bits of minimum %d bits from %s.", n*8, privateKeyMin*8, path)
		return &totemErr{key: key, msg: s, corosync: s}
	}
	return nil
}

// generateNodeID derives a node id from an IPv4 ring0_addr (big-endian
// address). ok=false when the address is not IPv4, or is all ones (which
// corosync cannot tell from its -1 failure value).
func (r *totemReader) generateNodeID(addr string) (uint32, bool) {
	a, ok := r.env.totemipParse(addr, ipv4)
	if !ok {
		return 0, false
	}
	b := a.As4()
	id := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if r.t.clearHigh {
		id &= 0x7FFFFFFF
	}
	if id == math.MaxUint32 {
		return 0, false
	}
	return id, true
}

// interfaceParams is get_interface_params for the initial read.
func (r *totemReader) interfaceParams() *totemErr {
	t := &r.t
	cluster, hasCluster := r.str("totem.cluster_name")
	genVer := ipv4
	for _, e := range r.m.Iter("totem.interface.") {
		rest := strings.TrimPrefix(e.Key, "totem.interface.")
		dot := strings.IndexByte(rest, '.')
		if dot <= 0 || dot == len(rest)-1 {
			continue
		}
		if rest[dot+1:] != "bindnetaddr" && t.transport == TransportUDP {
			continue
		}
		linkNum := cAtoi(rest[:dot])
		if linkNum >= interfaceMax {
			s := fmt.Sprintf("interface ring number %d is bigger than allowed maximum %d", linkNum, interfaceMax-1)
			return &totemErr{key: e.Key, msg: s, corosync: "parse error in config: " + s}
		}
		l := &t.links[linkNum]
		key := func(name string) string { return fmt.Sprintf("totem.interface.%d.%s", linkNum, name) }
		if s, ok := r.str(key("bindnetaddr")); ok {
			a, ok := r.env.totemipParse(s, t.ipVer)
			if !ok {
				m := fmt.Sprintf("failed to parse bindnet address '%s'", s)
				return &totemErr{key: key("bindnetaddr"), msg: m, corosync: m}
			}
			l.bindnet = a
		}
		if s, ok := r.str(key("mcastaddr")); ok {
			a, ok := r.env.totemipParse(s, t.ipVer)
			if !ok {
				m := fmt.Sprintf("failed to parse mcast address '%s'", s)
				return &totemErr{key: key("mcastaddr"), msg: m, corosync: m}
			}
			l.mcast = a
		} else if t.transport == TransportUDP {
			if b := t.links[0].bindnet; b.Is4() {
				genVer = ipv4
			} else if b.Is6() {
				genVer = ipv6
			}
			if hasCluster {
				l.mcast = clusterMcastAddr(cluster, linkNum, genVer)
			}
		}
		if s, err := r.m.GetString(key("broadcast")); err == nil && s == "yes" {
			t.broadcast = true
		}
		if p, err := r.m.GetUint16(key("mcastport")); err == nil {
			l.port = p
		} else if t.broadcast {
			l.port = uint16(defaultPort + 2*linkNum)
		} else {
			l.port = uint16(defaultPort + linkNum)
		}
		l.ttl = 1
		if v, err := r.m.GetUint8(key("ttl")); err == nil {
			l.ttl = uint32(v)
		}
		if s, ok := r.str(key("knet_transport")); ok && s != "sctp" && s != "udp" {
			m := "Unrecognised knet_transport. expected 'udp' or 'sctp'"
			return &totemErr{key: key("knet_transport"), msg: m, corosync: m}
		}
		l.configured = true
		l.linkPriority = 1
		if v, err := r.m.GetUint8(key("knet_link_priority")); err == nil {
			l.linkPriority = uint32(v)
		}
		l.pingInterval, _ = r.u32(key("knet_ping_interval"))
		l.pingTimeout, _ = r.u32(key("knet_ping_timeout"))
		l.pongCount = knetPongCount
		if v, ok := r.u32(key("knet_pong_count")); ok {
			l.pongCount = v
		}
		l.members = l.members[:0]
		for _, me := range r.m.Iter(key("member.")) {
			if len(l.members) == 0 {
				if hasStr(r.m, "nodelist.node.0.ring0_addr") {
					t.warnMembersIgnored = true
					break // the nodelist wins
				}
				t.warnMembersDeprecated = true
			}
			s, ok := r.str(me.Key)
			if !ok {
				continue
			}
			a, ok := r.env.totemipParse(s, t.ipVer)
			if !ok {
				m := fmt.Sprintf("failed to parse node address '%s'", s)
				return &totemErr{key: me.Key, msg: m, corosync: m}
			}
			l.members = append(l.members, member{addr: a})
		}
	}
	return nil
}

func hasStr(m *cmap.Store, k string) bool { _, err := m.GetString(k); return err == nil }

// cAtoi is atoi: leading blanks, sign, digits, anything after ignored; the
// result is then used as an unsigned link number.
func cAtoi(s string) uint32 {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
		if v > math.MaxInt32+1 {
			v = math.MaxInt32 + 1
		}
	}
	if neg {
		v = -v
	}
	return uint32(int32(v))
}

// clusterMcastAddr derives the default udp multicast group from the
// cluster name (get_cluster_mcast_addr).
func clusterMcastAddr(name string, link uint32, v ipVersion) netip.Addr {
	var h int32
	for i := 0; i < len(name); i++ {
		h = h<<1 + int32(int8(name[i]))
	}
	id := uint16(h&0xFFFF) + uint16(link)
	if v == ipv4 || v == ipv4then6 {
		return netip.AddrFrom4([4]byte{239, 192, byte(id >> 8), byte(id % 0xFF)})
	}
	var b [16]byte
	b[0], b[1] = 0xff, 0x15
	b[14], b[15] = byte(id>>8), byte(id)
	return netip.AddrFrom16(b)
}

// printAddr is totemip_print (inet_ntop).
func printAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// volatileRead is totem_volatile_config_read: effective timers with
// defaults, written to runtime.config.totem.*.
func (r *totemReader) volatileRead() {
	t := &r.t
	tm := &t.timing
	rt := func(name string, v uint32) { _ = r.m.Set("runtime.config.totem."+name, cmap.U32(v)) }
	get := func(name string, def uint32, allowZero bool) uint32 {
		v, ok := r.u32("totem." + name)
		if !ok || (!allowZero && v == 0) {
			v = def
		}
		rt(name, v)
		return v
	}
	tm.TokenRetransmitsBeforeLoss = get("token_retransmits_before_loss_const", 4, false)
	tm.Token = get("token", 3000, false)
	tm.TokenWarning = get("token_warning", 75, true)
	if n := len(t.links[0].members); n > 2 {
		coef := uint32(650)
		if v, ok := r.u32("totem.token_coefficient"); ok {
			coef = v
		}
		tm.Token += uint32(n-2) * coef
		rt("token", tm.Token)
	}
	tm.MaxNetworkDelay = get("max_network_delay", 50, false)
	tm.WindowSize = get("window_size", 50, false)
	tm.MaxMessages = get("max_messages", 17, false)
	tm.MissCountConst = get("miss_count_const", 5, false)
	get("knet_pmtud_interval", 30, false)
	get("knet_mtu", 0, false)
	tm.TokenRetransmit = get("token_retransmit",
		uint32(int32(float64(tm.Token)/(float64(tm.TokenRetransmitsBeforeLoss)+0.2))), false)
	tm.Hold = get("hold", uint32(int32(float64(tm.TokenRetransmit)*0.8-10)), false)
	tm.Join = get("join", 50, false)
	tm.Consensus = get("consensus", uint32(int32(float32(1.2*float64(tm.Token)))), false)
	tm.Merge = get("merge", 200, false)
	tm.Downcheck = get("downcheck", 1000, false)
	tm.FailRecvConst = get("fail_recv_const", 2500, false)
	tm.SeqnoUnchangedConst = get("seqno_unchanged_const", 30, false)
	tm.SendJoin = get("send_join", 0, true)
	tm.HeartbeatFailuresAllowed = get("heartbeat_failures_allowed", 0, true)
	get("knet_compression_threshold", 0, true)
	level := int32(0)
	if v, err := r.m.Get("totem.knet_compression_level"); err == nil {
		if x, ok := v.AsInt64(); ok && v.Type == cmap.TypeInt32 {
			level = int32(x)
		}
	}
	_ = r.m.Set("runtime.config.totem.knet_compression_level", cmap.I32(level))
	model := "none"
	if s, ok := r.str("totem.knet_compression_model"); ok {
		model = s
	}
	_ = r.m.Set("runtime.config.totem.knet_compression_model", cmap.Str(model))
	boolKey := func(name string, def bool) bool {
		v := def
		if s, ok := r.str("totem." + name); ok {
			if s == "yes" {
				v = true
			} else if s == "no" {
				v = false
			}
		}
		x := uint32(0)
		if v {
			x = 1
		}
		rt(name, x)
		return v
	}
	tm.BlockUnlistedIPs = boolKey("block_unlisted_ips", true)
	tm.CancelTokenHoldOnRetransmit = boolKey("cancel_token_hold_on_retransmit", false)
}

func (r *totemReader) knetPingTimers() {
	for i := range r.t.links {
		l := &r.t.links[i]
		if !l.configured {
			continue
		}
		if l.pongCount == 0 {
			l.pongCount = knetPongCount
		}
		if l.pingTimeout == 0 {
			l.pingTimeout = r.t.timing.Token / l.pongCount
		}
		_ = r.m.Set(fmt.Sprintf("runtime.config.totem.interface.%d.knet_ping_timeout", i), cmap.U32(l.pingTimeout))
		if l.pingInterval == 0 {
			l.pingInterval = r.t.timing.Token / (l.pongCount * 2)
		}
		_ = r.m.Set(fmt.Sprintf("runtime.config.totem.interface.%d.knet_ping_interval", i), cmap.U32(l.pingInterval))
	}
}
