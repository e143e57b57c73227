package cmap

import "strings"

// DefaultReadOnlyPrefixes and DefaultReadOnlyKeys are the keys Corosync 3.1.7
// makes read-only for clients at start-up (exec/main.c). Internal writers
// (the daemon itself) are not bound by them.
var DefaultReadOnlyPrefixes = []string{
	"internal_configuration.",
	"runtime.services.",
	"runtime.config.",
	"runtime.totem.",
	"uidgid.config.",
	"system.",
	"nodelist.",
}

var DefaultReadOnlyKeys = []string{
	"totem.crypto_cipher", "totem.crypto_hash", "totem.crypto_model",
	"totem.keyfile", "totem.key", "totem.secauth", "totem.ip_version",
	"totem.rrp_mode", "totem.transport", "totem.cluster_name", "totem.netmtu",
	"totem.threads", "totem.version", "totem.nodeid", "totem.clear_node_high_bit",
	"config.reload_in_progress", "config.totemconfig_reload_in_progress",
}

// VotequorumReadOnlyKeys become read-only once votequorum has started
// (votequorum_set_icmap_ro_keys); the service adds them with SetReadOnly.
var VotequorumReadOnlyKeys = []string{
	"quorum.allow_downscale", "quorum.wait_for_all", "quorum.last_man_standing",
	"quorum.last_man_standing_window", "quorum.expected_votes_tracking",
	"quorum.auto_tie_breaker", "quorum.auto_tie_breaker_node",
}

type roRule struct {
	name   string
	prefix bool
}

// roSet is guarded by the Store's mutex.
type roSet []roRule

func (s roSet) match(key string) bool {
	for _, r := range s {
		if r.prefix && strings.HasPrefix(key, r.name) || !r.prefix && key == r.name {
			return true
		}
	}
	return false
}

// SetReadOnly adds (ro=true) or removes a read-only rule for an exact key or,
// with prefix=true, for every key starting with name.
func (s *Store) SetReadOnly(name string, prefix, ro bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ro[:0]
	for _, r := range s.ro {
		if r.name != name || r.prefix != prefix {
			out = append(out, r)
		}
	}
	s.ro = out
	if ro {
		s.ro = append(s.ro, roRule{name, prefix})
	}
}

// ApplyDefaultReadOnly installs Corosync's start-up read-only rules.
func (s *Store) ApplyDefaultReadOnly() {
	for _, p := range DefaultReadOnlyPrefixes {
		s.SetReadOnly(p, true, true)
	}
	for _, k := range DefaultReadOnlyKeys {
		s.SetReadOnly(k, false, true)
	}
}

// IsReadOnly reports whether a client may not change key.
func (s *Store) IsReadOnly(key string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ro.match(key)
}
