package coroconf

import (
	"net/netip"
	"strconv"
	"strings"
)

// ipVersion is totem.ip_version: which family totemip_parse tries.
type ipVersion int

const (
	ipv4 ipVersion = iota
	ipv6
	ipv6then4
	ipv4then6
)

// parseInetAton accepts the IPv4 forms glibc's getaddrinfo takes as
// numeric: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the
// last part fills the remaining bytes ("127.1" is 127.0.0.1).
func parseInetAton(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var out uint64
	n := len(vals)
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
		out |= vals[i] << (8 * (3 - i))
	}
	if vals[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	out |= vals[n-1]
	return netip.AddrFrom4([4]byte{byte(out >> 24), byte(out >> 16), byte(out >> 8), byte(out)}), true
}

// lookupAll returns the addresses getaddrinfo would give for s: a numeric
// IPv4 or IPv6 literal, otherwise the resolver's answer.
func (e *Env) lookupAll(s string) []netip.Addr {
	if a, ok := parseInetAton(s); ok {
		return []netip.Addr{a}
	}
	if strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s); err == nil {
			return []netip.Addr{a.WithZone("")}
		}
		return nil
	}
	if s == "" || e.Resolve == nil {
		return nil
	}
	return e.Resolve(s)
}

// totemipParse is totemip_parse: pick an address of the family ip_version
// asks for.
func (e *Env) totemipParse(s string, v ipVersion) (netip.Addr, bool) {
	var first4, first6 netip.Addr
	for _, a := range e.lookupAll(s) {
		a = a.Unmap()
		if a.Is4() && !first4.IsValid() {
			first4 = a
		}
		if a.Is6() && !first6.IsValid() {
			first6 = a
		}
	}
	var pick netip.Addr
	switch v {
	case ipv4:
		pick = first4
	case ipv6:
		pick = first6
	case ipv6then4:
		pick = first6
		if !pick.IsValid() {
			pick = first4
		}
	case ipv4then6:
		pick = first4
		if !pick.IsValid() {
			pick = first6
		}
	}
	return pick, pick.IsValid()
}

func isMulticast(a netip.Addr) bool { return a.IsMulticast() }
