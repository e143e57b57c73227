package coroconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ringfence/ringfence/cmap"
)

// Section kinds of the main corosync.conf (coroparse's callback states).
const (
	stNormal state = iota
	stTotem
	stInterface
	stLoggerSubsys
	stUidgid
	stLoggingDaemon
	stMember
	stQuorum
	stQdevice
	stNodelist
	stNodelistNode
	stSystem
	stResources
	stResourcesSystem
	stResourcesProcess
	stResourcesSystemMemused
	stResourcesProcessMemused
)

// Models libknet 1.x offers on Debian bookworm (corosync -v lists them);
// coroparse refuses anything else, "none" included.
var (
	knetCryptoModels   = []string{"nss", "openssl"}
	knetCompressModels = []string{"zlib", "lz4", "lz4hc", "lzo2", "lzma", "bzip2", "zstd"}
)

// Keys coroparse stores with a numeric type; everything else is a string.
var (
	totemU32Keys = setOf("version", "nodeid", "threads", "token", "token_coefficient",
		"token_retransmit", "token_warning", "hold", "token_retransmits_before_loss_const",
		"join", "send_join", "consensus", "merge", "downcheck", "fail_recv_const",
		"seqno_unchanged_const", "rrp_token_expired_timeout", "rrp_problem_count_timeout",
		"rrp_problem_count_threshold", "rrp_problem_count_mcast_threshold",
		"rrp_autorecovery_check_timeout", "heartbeat_failures_allowed", "max_network_delay",
		"window_size", "max_messages", "miss_count_const", "knet_pmtud_interval", "knet_mtu",
		"knet_compression_threshold", "netmtu")
	quorumU32Keys  = setOf("expected_votes", "votes", "last_man_standing_window", "leaving_timeout")
	quorumU8Keys   = setOf("two_node", "expected_votes_tracking", "allow_downscale", "wait_for_all", "auto_tie_breaker", "last_man_standing")
	qdeviceU32Keys = setOf("timeout", "sync_timeout", "votes")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func modelList(models []string) string {
	if len(models) == 1 {
		return models[0]
	}
	return strings.Join(models[:len(models)-1], ", ") + " or " + models[len(models)-1]
}

type kv struct{ key, value string }

// interfaceData collects an interface{} section; its keys are written
// with the link number only when the section closes.
type interfaceData struct {
	linknumber    int64
	bindnetaddr   *string
	mcastaddr     *string
	broadcast     *string
	knetTransport *string
	ints          map[string]int64 // mcastport, ttl, knet_* ; absent = not set
	members       []kv
}

// mainHandler types and stores the items of corosync.conf into a map the
// way coroparse's main callback does.
type mainHandler struct {
	m   *cmap.Store
	env *Env

	iface         interfaceData
	subsys        *string
	daemonName    *string
	subsysItems   []kv
	nodeNumber    uint32
	nodelistStart bool
}

func (h *mainHandler) start() {
	*h = mainHandler{m: h.m, env: h.env}
}

func storeErr(key string, err error) string {
	code := "CS_ERR_LIBRARY"
	if errors.Is(err, cmap.ErrInvalidName) {
		code = "CS_ERR_NAME_TOO_LONG"
	}
	return limit256(fmt.Sprintf("Can't store key \"%s\" into icmap, returned error is %s", key, code))
}

func atoiErr(key string, t cmap.Type, value string) string {
	lo, hi := intRange(t)
	return limit256(fmt.Sprintf("Value of key \"%s\" is expected to be integer in range (%d..%d), but \"%s\" was given", key, lo, hi, value))
}

// limit256 mirrors coroparse's 256-byte message buffer.
func limit256(s string) string {
	if len(s) >= 256 {
		return "Can't format parser error message"
	}
	return s
}

// setInt range-checks value for t and stores it under key.
func (h *mainHandler) setInt(key, errKey, value string, t cmap.Type) string {
	v, ok := safeAtoq(value, t)
	if !ok {
		return atoiErr(errKey, t, value)
	}
	if err := h.m.Set(key, typedValue(t, v)); err != nil {
		return storeErr(errKey, err)
	}
	return ""
}

func (h *mainHandler) setU64(key, value string) string {
	v, ok := strToUll(value)
	if !ok {
		// coroparse reports a u64 failure with the range of the last
		// integer type it looked at, which is none: the assert in C
		// would fire. Use the u32 wording, the closest real output.
		return atoiErr(key, cmap.TypeUint32, value)
	}
	if err := h.m.Set(key, cmap.U64(v)); err != nil {
		return storeErr(key, err)
	}
	return ""
}

func (h *mainHandler) setStr(key, value string) string {
	if err := h.m.Set(key, cmap.Str(value)); err != nil {
		return storeErr(key, err)
	}
	return ""
}

func (h *mainHandler) item(path, key, value string, st *state) string {
	if len(path) > keyNameMax {
		return limit256(fmt.Sprintf("Can't store path \"%s\" into key_name", path))
	}
	leaf := path[strings.LastIndexByte(path, '.')+1:]
	switch *st {
	case stQuorum:
		if strings.HasPrefix(path, "quorum.") && path == "quorum."+leaf {
			if quorumU32Keys[leaf] {
				return h.setInt(path, path, value, cmap.TypeUint32)
			}
			if quorumU8Keys[leaf] {
				return h.setInt(path, path, value, cmap.TypeUint8)
			}
		}
	case stQdevice:
		if path == "quorum.device."+leaf {
			if qdeviceU32Keys[leaf] {
				return h.setInt(path, path, value, cmap.TypeUint32)
			}
			if leaf == "master_wins" {
				return h.setInt(path, path, value, cmap.TypeUint8)
			}
		}
	case stTotem:
		if path == "totem."+leaf {
			if msg, handled := h.totemItem(path, leaf, value); handled || msg != "" {
				return msg
			}
		}
	case stSystem:
		switch path {
		case "system.qb_ipc_type":
			if !oneOf(value, "native", "shm", "socket") {
				return "Invalid system.qb_ipc_type"
			}
		case "system.sched_rr":
			if !oneOf(value, "yes", "no") {
				return "Invalid system.sched_rr value"
			}
		case "system.move_to_root_cgroup":
			if !oneOf(value, "yes", "no", "auto") {
				return "Invalid system.move_to_root_cgroup"
			}
		case "system.allow_knet_handle_fallback":
			if !oneOf(value, "yes", "no") {
				return "Invalid system.allow_knet_handle_fallback"
			}
		}
	case stInterface:
		if msg, handled := h.interfaceItem(path, value); handled || msg != "" {
			return msg
		}
	case stLoggerSubsys, stLoggingDaemon:
		switch {
		case key == "subsys":
			v := value
			h.subsys = &v
		case key == "name" && *st == stLoggingDaemon:
			v := value
			h.daemonName = &v
		default:
			// coroparse pushes on the head of a list, so the items come
			// back newest first and the first occurrence of a key wins.
			h.subsysItems = append([]kv{{key, value}}, h.subsysItems...)
		}
		return ""
	case stUidgid:
		return h.uidgidItem(key, value)
	case stMember:
		if key != "memberaddr" {
			return "Only memberaddr is allowed in member section"
		}
		h.iface.members = append([]kv{{key, value}}, h.iface.members...)
		return ""
	case stNodelistNode:
		full := fmt.Sprintf("nodelist.node.%d.%s", h.nodeNumber, key)
		if len(full) > keyNameMax-1 {
			full = full[:keyNameMax-1] // snprintf into a 255-byte buffer
		}
		if key == "nodeid" || key == "quorum_votes" {
			return h.setInt(full, full, value, cmap.TypeUint32)
		}
		return h.setStr(full, value)
	case stResources:
		if key == "watchdog_timeout" {
			return h.setInt(path, path, value, cmap.TypeUint32)
		}
	case stResourcesSystem, stResourcesSystemMemused, stResourcesProcess, stResourcesProcessMemused:
		if key == "poll_period" {
			return h.setU64(path, value)
		}
	}
	return h.setStr(path, value)
}

func (h *mainHandler) totemItem(path, leaf, value string) (msg string, handled bool) {
	switch {
	case totemU32Keys[leaf]:
		return h.setInt(path, path, value, cmap.TypeUint32), true
	case leaf == "knet_compression_level":
		return h.setInt(path, path, value, cmap.TypeInt32), true
	case leaf == "config_version":
		return h.setU64(path, value), true
	case leaf == "ip_version":
		if !oneOf(value, "ipv4", "ipv6", "ipv6-4", "ipv4-6") {
			return "Invalid ip_version type", true
		}
	case leaf == "crypto_model":
		if !oneOf(value, knetCryptoModels...) {
			return "Invalid crypto model. Should be " + modelList(knetCryptoModels), true
		}
	case leaf == "crypto_cipher":
		if !oneOf(value, "none", "aes256", "aes192", "aes128") {
			return "Invalid cipher type. Should be none, aes256, aes192 or aes128", true
		}
	case leaf == "crypto_hash":
		if !oneOf(value, "none", "md5", "sha1", "sha256", "sha384", "sha512") {
			return "Invalid hash type. Should be none, md5, sha1, sha256, sha384 or sha512", true
		}
	case leaf == "knet_compression_model":
		if !oneOf(value, knetCompressModels...) {
			return "Invalid compression model. Should be " + modelList(knetCompressModels), true
		}
	}
	return "", false
}

func (h *mainHandler) interfaceItem(path, value string) (msg string, handled bool) {
	const pfx = "totem.interface."
	if !strings.HasPrefix(path, pfx) {
		return "", false
	}
	name := path[len(pfx):]
	intKey := func(t cmap.Type) (string, bool) {
		v, ok := safeAtoq(value, t)
		if !ok {
			return atoiErr(path, t, value), true
		}
		h.iface.ints[name] = v
		return "", true
	}
	switch name {
	case "linknumber":
		v, ok := safeAtoq(value, cmap.TypeUint8)
		if !ok {
			return atoiErr(path, cmap.TypeUint8, value), true
		}
		h.iface.linknumber = v
		return "", true
	case "bindnetaddr":
		h.iface.bindnetaddr = &value
		return "", true
	case "mcastaddr":
		h.iface.mcastaddr = &value
		return "", true
	case "broadcast":
		h.iface.broadcast = &value
		return "", true
	case "knet_transport":
		h.iface.knetTransport = &value
		return "", true
	case "mcastport":
		return intKey(cmap.TypeUint16)
	case "ttl", "knet_link_priority":
		return intKey(cmap.TypeUint8)
	case "knet_ping_interval", "knet_ping_timeout", "knet_ping_precision", "knet_pong_count":
		return intKey(cmap.TypeUint32)
	}
	return "", false
}

func (h *mainHandler) sectionStart(path string, st *state) string {
	switch path {
	case "totem.interface":
		*st = stInterface
		h.iface = interfaceData{ints: map[string]int64{}}
	case "totem":
		*st = stTotem
	case "system":
		*st = stSystem
	case "logging.logger_subsys":
		*st = stLoggerSubsys
		h.subsysItems, h.subsys = nil, nil
	case "logging.logging_daemon":
		*st = stLoggingDaemon
		h.subsysItems, h.subsys, h.daemonName = nil, nil, nil
	case "uidgid":
		*st = stUidgid
	case "totem.interface.member":
		*st = stMember
	case "quorum":
		*st = stQuorum
	case "quorum.device":
		*st = stQdevice
	case "nodelist":
		*st = stNodelist
		h.nodeNumber = 0
	case "nodelist.node":
		*st = stNodelistNode
	case "resources":
		*st = stResources
	case "resources.system":
		*st = stResourcesSystem
	case "resources.system.memory_used":
		*st = stResourcesSystemMemused
	case "resources.process":
		*st = stResourcesProcess
	case "resources.process.memory_used":
		*st = stResourcesProcessMemused
	}
	return ""
}

func (h *mainHandler) sectionEnd(path string, st *state) string {
	switch *st {
	case stInterface:
		return h.closeInterface()
	case stLoggerSubsys:
		if h.subsys == nil {
			return "No subsys key in logger_subsys directive"
		}
		sub := *h.subsys
		for _, it := range h.subsysItems {
			if msg := h.setStr(fmt.Sprintf("logging.logger_subsys.%s.%s", sub, it.key), it.value); msg != "" {
				return msg
			}
		}
		h.subsysItems = nil
		return h.setStr(fmt.Sprintf("logging.logger_subsys.%s.subsys", sub), sub)
	case stLoggingDaemon:
		return h.closeLoggingDaemon()
	case stNodelistNode:
		h.nodeNumber++
	}
	return ""
}

func (h *mainHandler) closeInterface() string {
	d := &h.iface
	link := d.linknumber
	key := func(name string) string { return fmt.Sprintf("totem.interface.%d.%s", link, name) }
	for _, s := range []struct {
		name string
		v    *string
	}{{"bindnetaddr", d.bindnetaddr}, {"mcastaddr", d.mcastaddr}, {"broadcast", d.broadcast}} {
		if s.v != nil {
			if msg := h.setStr(key(s.name), *s.v); msg != "" {
				return msg
			}
		}
	}
	d.bindnetaddr, d.mcastaddr, d.broadcast = nil, nil, nil
	for _, n := range []struct {
		name string
		t    cmap.Type
	}{{"mcastport", cmap.TypeUint16}, {"ttl", cmap.TypeUint8}, {"knet_link_priority", cmap.TypeUint8},
		{"knet_ping_interval", cmap.TypeUint32}, {"knet_ping_timeout", cmap.TypeUint32},
		{"knet_ping_precision", cmap.TypeUint32}, {"knet_pong_count", cmap.TypeUint32}} {
		if v, ok := d.ints[n.name]; ok {
			if err := h.m.Set(key(n.name), typedValue(n.t, v)); err != nil {
				return storeErr(key(n.name), err)
			}
		}
	}
	if d.knetTransport != nil {
		if msg := h.setStr(key("knet_transport"), *d.knetTransport); msg != "" {
			return msg
		}
	}
	for i, m := range d.members {
		if msg := h.setStr(fmt.Sprintf("totem.interface.%d.member.%d", link, i), m.value); msg != "" {
			return msg
		}
	}
	d.members = nil
	return ""
}

func (h *mainHandler) closeLoggingDaemon() string {
	if h.daemonName == nil {
		return "No name key in logging_daemon directive"
	}
	name := *h.daemonName
	for _, it := range h.subsysItems {
		var k string
		switch {
		case h.subsys == nil && name == "corosync":
			k = "logging." + it.key
		case h.subsys == nil:
			k = fmt.Sprintf("logging.logging_daemon.%s.%s", name, it.key)
		case name == "corosync":
			k = fmt.Sprintf("logging.logger_subsys.%s.%s", *h.subsys, it.key)
		default:
			k = fmt.Sprintf("logging.logging_daemon.%s.%s.%s", name, *h.subsys, it.key)
		}
		if msg := h.setStr(k, it.value); msg != "" {
			return msg
		}
	}
	h.subsysItems = nil
	switch {
	case h.subsys == nil && name != "corosync":
		return h.setStr(fmt.Sprintf("logging.logging_daemon.%s.name", name), name)
	case h.subsys != nil && name == "corosync":
		return h.setStr(fmt.Sprintf("logging.logger_subsys.%s.subsys", *h.subsys), *h.subsys)
	case h.subsys != nil:
		if msg := h.setStr(fmt.Sprintf("logging.logging_daemon.%s.%s.subsys", name, *h.subsys), *h.subsys); msg != "" {
			return msg
		}
		return h.setStr(fmt.Sprintf("logging.logging_daemon.%s.%s.name", name, *h.subsys), name)
	}
	return ""
}
