package cmapsvc

import (
	"strings"

	"github.com/ringfence/ringfence/ipc"
)

// statsClearPrefix names the only writable keys of the stats map: setting
// stats.clear.<what> clears those counters (corosync-cmapctl -C).
const statsClearPrefix = "stats.clear."

// statsClearTargets are the clear keys Corosync knows, matched by prefix
// as it does (stats.clear.allx clears everything too).
var statsClearTargets = []string{"knet", "ipc", "totem", "schedmiss", "all"}

// statsWrite answers a write (set, delete, adjust) on the stats map as
// Corosync's stats map does: every key but stats.clear.* is read-only
// (CS_ERR_ACCESS); a set of a known clear key clears, anything else is
// CS_ERR_NOT_SUPPORTED.
func (s *Service) statsWrite(key string, isSet bool) ipc.CsError {
	what, ok := strings.CutPrefix(key, statsClearPrefix)
	if !ok {
		return ipc.CsErrAccess
	}
	if !isSet {
		return csErrNotSupported
	}
	cleared := false
	for _, t := range statsClearTargets {
		if strings.HasPrefix(what, t) {
			if s.ClearStats != nil {
				s.ClearStats(t)
			}
			cleared = true
		}
	}
	if !cleared {
		return csErrNotSupported
	}
	return ipc.CsOK
}

// csErrNotSupported is CS_ERR_NOT_SUPPORTED.
const csErrNotSupported = ipc.CsError(19)
