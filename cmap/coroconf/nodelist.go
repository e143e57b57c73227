package coroconf

import (
	"fmt"
	"math"
	"strings"

	"github.com/ringfence/ringfence/cmap"
)

// nodeKey splits "nodelist.node.<pos>.<rest>" like sscanf("%u.%s").
func nodeKey(key string) (pos uint32, rest string, ok bool) {
	s, found := strings.CutPrefix(key, "nodelist.node.")
	if !found {
		return 0, "", false
	}
	i := 0
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		if v > math.MaxUint32 {
			v = math.MaxUint32
		}
		i++
	}
	if i == 0 || i+1 >= len(s) || s[i] != '.' {
		return 0, "", false
	}
	return uint32(v), s[i+1:], true
}

// ringKey recognises "ring<N>_addr" (sscanf "ring%u%s" then "_addr").
func ringKey(rest string) (link uint32, ok bool) {
	s, found := strings.CutPrefix(rest, "ring")
	if !found {
		return 0, false
	}
	i := 0
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		if v > math.MaxUint32 {
			v = math.MaxUint32
		}
		i++
	}
	if i == 0 || s[i:] != "_addr" {
		return 0, false
	}
	return uint32(v), true
}

// nodelistByName returns the position of the first node (in key order)
// whose name or ring0_addr equals find; with stripDomain the configured
// value is compared only up to its first dot.
func (r *totemReader) nodelistByName(find string, stripDomain bool) (uint32, bool) {
	for _, e := range r.m.Iter("nodelist.node.") {
		pos, rest, ok := nodeKey(e.Key)
		if !ok || (rest != "name" && rest != "ring0_addr") {
			continue
		}
		v, ok := e.Value.AsString()
		if !ok {
			continue
		}
		if stripDomain {
			if d := strings.IndexByte(v, '.'); d >= 0 {
				v = v[:d]
			}
		}
		if v == find {
			return pos, true
		}
	}
	return 0, false
}

// findLocalNode is find_local_node: which nodelist entry is this machine.
// Order: host name, host name with domain parts removed, names and
// numeric forms of local addresses, then resolving every configured
// name/ring0_addr and comparing with the local addresses. A match is
// cached in nodelist.local_node_pos.
//
// usable mirrors corosync's return value: when nothing matches, corosync
// still returns the node position of the last nodelist key its final loop
// looked at (the variable is reused by sscanf), and its callers then treat
// that node as local for bindnetaddr and node id purposes; only the
// missing cache key makes the later check fail with "No valid name found
// for local host". We reproduce that so the verdicts stay identical.
func (r *totemReader) findLocalNode() (pos uint32, usable bool) {
	if v, ok := r.u32("nodelist.local_node_pos"); ok {
		return v, true
	}
	pos, found, usable := r.searchLocalNode()
	if found {
		_ = r.m.Set("nodelist.local_node_pos", cmap.U32(pos))
	}
	return pos, usable
}

// leadingNodePos is sscanf("nodelist.node.%u") alone: it succeeds when
// digits follow the prefix, whatever comes after them.
func leadingNodePos(key string) (uint32, bool) {
	s, found := strings.CutPrefix(key, "nodelist.node.")
	if !found {
		return 0, false
	}
	i := 0
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		if v > math.MaxUint32 {
			v = math.MaxUint32
		}
		i++
	}
	return uint32(v), i > 0
}

func (r *totemReader) searchLocalNode() (pos uint32, found, usable bool) {
	host := r.env.Hostname
	if pos, ok := r.nodelistByName(host, false); ok {
		return pos, true, true
	}
	short := host
	for {
		d := strings.LastIndexByte(short, '.')
		if d < 0 {
			break
		}
		short = short[:d]
		if pos, ok := r.nodelistByName(short, false); ok {
			return pos, true, true
		}
	}
	if pos, ok := r.nodelistByName(short, true); ok {
		return pos, true, true
	}
	for _, a := range r.env.LocalAddrs {
		var names []string
		if r.env.ReverseNames != nil {
			names = r.env.ReverseNames(a)
		}
		if len(names) == 0 {
			names = []string{a.String()} // getnameinfo falls back to numeric
		}
		n := names[0]
		if pos, ok := r.nodelistByName(n, false); ok {
			return pos, true, true
		}
		if d := strings.IndexByte(n, '.'); d >= 0 {
			if pos, ok := r.nodelistByName(n[:d], false); ok {
				return pos, true, true
			}
		}
		// The numeric retry passes sizeof(struct sockaddr), which only
		// fits IPv4.
		if a.Is4() {
			if pos, ok := r.nodelistByName(a.String(), false); ok {
				return pos, true, true
			}
		}
	}
	for _, e := range r.m.Iter("nodelist.node.") {
		if p, ok := leadingNodePos(e.Key); ok {
			pos, usable = p, true
		}
		_, rest, ok := nodeKey(e.Key)
		if !ok || (rest != "name" && rest != "ring0_addr") {
			continue
		}
		v, ok := e.Value.AsString()
		if !ok {
			continue
		}
		for _, cand := range r.env.lookupAll(v) {
			for _, local := range r.env.LocalAddrs {
				if cand.Unmap().WithZone("") == local.Unmap().WithZone("") {
					return pos, true, true
				}
			}
		}
	}
	return pos, false, usable
}

// nodelistToInterface is config_convert_nodelist_to_interface: the local
// node's ringX_addr become totem.interface.X.bindnetaddr.
func (r *totemReader) nodelistToInterface() {
	pos, ok := r.findLocalNode()
	if !ok {
		return
	}
	for _, e := range r.m.Iter(fmt.Sprintf("nodelist.node.%d.", pos)) {
		_, rest, ok := nodeKey(e.Key)
		if !ok {
			continue
		}
		link, ok := ringKey(rest)
		if !ok {
			continue
		}
		if s, ok := e.Value.AsString(); ok {
			_ = r.m.Set(fmt.Sprintf("totem.interface.%d.bindnetaddr", link), cmap.Str(s))
		}
	}
}

// nodelistMembers is put_nodelist_members_to_config: every ringX_addr of
// every node becomes a member of link X; node ids are generated for
// udp/udpu and written back.
func (r *totemReader) nodelistMembers() *totemErr {
	t := &r.t
	for i := range t.links {
		t.links[i].members = nil
	}
	seen := map[uint32]bool{}
	for _, e := range r.m.Iter("nodelist.node.") {
		pos, _, ok := nodeKey(e.Key)
		if !ok || seen[pos] {
			continue
		}
		seen[pos] = true
		prefix := fmt.Sprintf("nodelist.node.%d.", pos)
		keys := r.m.Iter(prefix)
		restarted := false
		for i := 0; i < len(keys); i++ {
			ne := keys[i]
			nodeID, _ := r.u32(prefix + "nodeid")
			_, rest, ok := nodeKey(ne.Key)
			if !ok {
				continue
			}
			link, ok := ringKey(rest)
			if !ok {
				continue
			}
			if link >= interfaceMax {
				s := fmt.Sprintf("interface ring number %d is bigger than allowed maximum %d", link, interfaceMax-1)
				return &totemErr{key: ne.Key, msg: s, corosync: "parse error in config: " + s}
			}
			addrStr, ok := r.str(ne.Key)
			if !ok {
				continue
			}
			if nodeID == 0 && t.transport != TransportKnet {
				if ring0, ok := r.str(prefix + "ring0_addr"); ok {
					id, ok := r.generateNodeID(ring0)
					if !ok {
						s := fmt.Sprintf("An IPV6 network requires that a node ID be specified for address '%s'.", addrStr)
						return &totemErr{key: ne.Key, msg: s, corosync: s}
					}
					nodeID = id
					_ = r.m.Set(prefix+"nodeid", cmap.U32(id))
					// corosync writes the generated id back while it
					// iterates over this node's keys; its iterator then
					// walks the node again, so the address is counted
					// twice (a 3-node auto-id udpu cluster gets the
					// token coefficient for 6 members, verified live).
					if !restarted {
						restarted = true
						keys = append(keys[:i+1:i+1], r.m.Iter(prefix)...)
					}
				}
			}
			if nodeID == 0 && t.transport == TransportKnet {
				s := fmt.Sprintf("Knet requires an explicit nodeid to be specified for address '%s'.", addrStr)
				return &totemErr{key: ne.Key, msg: s, corosync: s}
			}
			if t.transport == TransportKnet && nodeID >= knetMaxHost {
				s := fmt.Sprintf("Knet requires nodeid to be less than %d for address '%s'.", knetMaxHost, addrStr)
				return &totemErr{key: prefix + "nodeid", msg: s, corosync: s}
			}
			a, ok := r.env.totemipParse(addrStr, t.ipVer)
			if !ok {
				s := fmt.Sprintf("failed to parse node address '%s'", addrStr)
				return &totemErr{key: ne.Key, msg: s, corosync: s}
			}
			l := &t.links[link]
			l.members = append(l.members, member{addr: a, nodeID: nodeID})
			l.configured = true
		}
	}
	return nil
}

// validate is totem_config_validate with totem_volatile_config_validate
// and the duplicate node id check, in corosync's order.
func (r *totemReader) validate() *totemErr {
	t := &r.t
	configured := 0
	for _, l := range t.links {
		if l.configured {
			configured++
		}
	}
	if configured == 0 {
		e := framed("No interfaces defined")
		e.key = "totem"
		return e
	}
	if _, ok := r.u32("nodelist.local_node_pos"); !ok {
		e := framed("No valid name found for local host")
		e.key = "nodelist"
		return e
	}
	for i, l := range t.links {
		if !l.configured {
			continue
		}
		fail := func(key, f string) *totemErr {
			e := framed(fmt.Sprintf(f, i))
			e.key = fmt.Sprintf("totem.interface.%d.%s", i, key)
			return e
		}
		if t.transport == TransportUDP && !l.mcast.IsValid() {
			return fail("mcastaddr", "No multicast address specified for interface %d")
		}
		if l.port == 0 {
			return fail("mcastport", "No multicast port specified for interface %d")
		}
		if t.transport != TransportUDP && l.ttl != 1 {
			return fail("ttl", "Can only set ttl on multicast transport types for interface %d")
		}
		if t.transport != TransportKnet && l.linkPriority != 1 {
			return fail("knet_link_priority", "Can only set link priority on knet transport type for interface %d")
		}
		if l.mcast.Is6() && t.nodeID == 0 {
			return fail("mcastaddr", "An IPV6 network requires that a node ID be specified for interface %d")
		}
		if !t.broadcast && t.transport == TransportUDP {
			if l.mcast.Is4() != l.bindnet.Is4() || l.mcast.Is6() != l.bindnet.Is6() {
				return fail("mcastaddr", "Multicast address family does not match bind address family for interface %d")
			}
			if !isMulticast(l.mcast) {
				return fail("mcastaddr", "mcastaddr is not a correct multicast address for interface %d")
			}
		}
	}
	if t.version != 2 {
		e := framed("This totem parser can only parse version 2 configurations.")
		e.key = "totem.version"
		return e
	}
	if e := r.validateTiming(); e != nil {
		return e
	}
	if e := r.duplicateNodeIDs(); e != nil {
		return e
	}
	if t.linkMode != "active" && t.linkMode != "rr" && t.linkMode != "passive" {
		e := framed(fmt.Sprintf("The Knet link mode \"%s\" specified is invalid.  It must be active, passive or rr.", t.linkMode))
		e.key = "totem.link_mode"
		return e
	}
	if t.transport != TransportKnet && configured > 1 {
		e := framed(fmt.Sprintf("%d is too many configured interfaces for non-Knet transport.", configured))
		e.key = "nodelist"
		return e
	}
	if t.transport != TransportKnet && (t.cipher != "none" || t.hash != "none") {
		e := framed("crypto_cipher & crypto_hash are only valid for the Knet transport.")
		e.key = "totem.crypto_cipher"
		return e
	}
	if t.netMTU == 0 {
		if t.transport == TransportKnet {
			t.netMTU = knetMaxPacketSize
		} else {
			t.netMTU = udpNetMTU
		}
	}
	return nil
}

func (r *totemReader) validateTiming() *totemErr {
	tm := &r.t.timing
	fail := func(key, s string) *totemErr {
		e := framed(s)
		e.key = "totem." + key
		return e
	}
	switch {
	case tm.MaxNetworkDelay < minimumTimeout:
		return fail("max_network_delay", fmt.Sprintf("The max_network_delay parameter (%d ms) may not be less than (%d ms).", int32(tm.MaxNetworkDelay), minimumTimeout))
	case tm.Token < minimumTimeout:
		return fail("token", fmt.Sprintf("The token timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Token), minimumTimeout))
	case tm.TokenWarning > 100:
		return fail("token_warning", fmt.Sprintf("The token warning parameter (%d%%) must be between 0 (disabled) and 100.", int32(tm.TokenWarning)))
	case tm.TokenRetransmit < minimumTimeout:
		if _, ok := r.u32("totem.token_retransmit"); ok {
			return fail("token_retransmit", fmt.Sprintf("The token retransmit timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.TokenRetransmit), minimumTimeout))
		}
		return fail("token", "Not appropriate token or token_retransmits_before_loss_const value set")
	case int64(tm.Hold) < minimumTimeoutHld:
		return fail("hold", fmt.Sprintf("The token hold timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Hold), minimumTimeoutHld))
	case tm.Join < minimumTimeout:
		return fail("join", fmt.Sprintf("The join timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Join), minimumTimeout))
	case tm.Consensus < minimumTimeout:
		return fail("consensus", fmt.Sprintf("The consensus timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Consensus), minimumTimeout))
	case tm.Consensus < tm.Join:
		return fail("consensus", fmt.Sprintf("The consensus timeout parameter (%d ms) may not be less than join timeout (%d ms).", int32(tm.Consensus), int32(tm.Join)))
	case tm.Merge < minimumTimeout:
		return fail("merge", fmt.Sprintf("The merge timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Merge), minimumTimeout))
	case tm.Downcheck < minimumTimeout:
		return fail("downcheck", fmt.Sprintf("The downcheck timeout parameter (%d ms) may not be less than (%d ms).", int32(tm.Downcheck), minimumTimeout))
	}
	links := 0
	members := -1
	for _, l := range r.t.links {
		if l.configured {
			if links == 0 {
				members = len(l.members)
			}
			links++
		}
	}
	if links > 1 {
		for i := 0; i < members; i++ {
			if !hasStr(r.m, fmt.Sprintf("nodelist.node.%d.name", i)) {
				return fail("interface", "for a multi-link configuration, all nodes must have a 'name' attribute")
			}
		}
		for _, l := range r.t.links {
			if l.configured && len(l.members) != members {
				return fail("interface", "Not all nodes have the same number of links")
			}
		}
	}
	for i, l := range r.t.links {
		if !l.configured {
			continue
		}
		for j := 1; j < len(l.members); j++ {
			if l.members[j].addr.Is4() != l.members[0].addr.Is4() {
				e := framed(fmt.Sprintf("Nodes for link %d have different IP families (compared %s with %s)", i,
					printAddr(l.members[j].addr), printAddr(l.members[0].addr)))
				e.key = "nodelist"
				return e
			}
		}
	}
	return nil
}

// duplicateNodeIDs is check_for_duplicate_nodeids, including its quirks:
// nodes are visited in key order (so node 10 comes before node 2), and a
// node is only compared with earlier visited nodes that have an explicit
// nodeid key.
func (r *totemReader) duplicateNodeIDs() *totemErr {
	entries := r.m.Iter("nodelist.node.")
	var order []uint32
	seen := map[uint32]bool{}
	for _, e := range entries {
		if pos, _, ok := nodeKey(e.Key); ok && !seen[pos] {
			seen[pos] = true
			order = append(order, pos)
		}
	}
	idOf := func(pos uint32) (id uint32, auto bool, ok bool) {
		if v, ok := r.u32(fmt.Sprintf("nodelist.node.%d.nodeid", pos)); ok {
			return v, false, true
		}
		ring0, ok := r.str(fmt.Sprintf("nodelist.node.%d.ring0_addr", pos))
		if !ok {
			return 0, false, false
		}
		id, ok = r.generateNodeID(ring0)
		return id, true, ok
	}
	for _, pos := range order {
		id, auto, ok := idOf(pos)
		if !ok {
			continue
		}
		// inner walk: keys in order while the previous key's node
		// position is below pos
		var prev uint32
		for _, e := range entries {
			if prev >= pos {
				break
			}
			p1, rest, ok := nodeKey(e.Key)
			if !ok {
				continue
			}
			prev = p1
			if p1 >= pos || rest != "nodeid" {
				continue
			}
			if other, _, ok := idOf(p1); ok && other == id {
				s := fmt.Sprintf("Nodeid %d appears twice in corosync.conf", id)
				if auto {
					ring0, _ := r.str(fmt.Sprintf("nodelist.node.%d.ring0_addr", pos))
					s = fmt.Sprintf("Nodeid %d(autogenerated from %s) appears twice in corosync.conf", id, ring0)
				}
				return &totemErr{key: fmt.Sprintf("nodelist.node.%d.nodeid", pos), msg: s, corosync: s}
			}
		}
	}
	return nil
}
