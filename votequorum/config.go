package votequorum

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// NodeEntry is one nodelist.node.N entry as votequorum sees it.
type NodeEntry struct {
	NodeID uint32
	// QuorumVotes is nodelist.node.N.quorum_votes; nil means the default 1.
	QuorumVotes *uint32
}

// Config is the votequorum part of corosync.conf as plain values (parsing
// the file is the config package's job). Zero values mean "not set" where
// corosync distinguishes; pointers are used where an explicit 0 differs
// from an absent key.
type Config struct {
	// NodeID is this node's totem node id.
	NodeID uint32
	// Nodelist is nodelist.node.*; it only counts when NodeID is in it
	// (corosync needs nodelist.local_node_pos).
	Nodelist []NodeEntry

	ExpectedVotes uint32  // quorum.expected_votes; 0 = unset
	Votes         *uint32 // quorum.votes (only used without a nodelist)
	TwoNode       bool    // quorum.two_node
	// WaitForAll is quorum.wait_for_all; nil follows two_node.
	WaitForAll *bool

	LastManStanding bool
	// LastManStandingWindowMS is quorum.last_man_standing_window; nil = 10000.
	LastManStandingWindowMS *uint32

	AutoTieBreaker bool
	// AutoTieBreakerNode is quorum.auto_tie_breaker_node as written:
	// "lowest", "highest" or a space-separated list of node ids.
	AutoTieBreakerNode *string

	AllowDownscale        bool
	ExpectedVotesTracking bool
	// EVStore persists the expected_votes_tracking barrier (corosync's
	// <state_dir>/ev_tracking). Required when tracking is on (allow_downscale
	// turns it on).
	EVStore EVStore

	Qdevice QdeviceConfig
}

// QdeviceConfig is quorum.device.*. The device counts as configured when
// Model is not empty.
type QdeviceConfig struct {
	Model         string
	Votes         *uint32 // nil: derived from the nodelist
	TimeoutMS     *uint32 // nil: 10000
	SyncTimeoutMS *uint32 // nil: 30000
	// MasterWins is quorum.device.master_wins. votequorum itself never reads
	// it (corosync-qdevice does and then calls QdeviceMasterWins); kept so
	// the daemon has one place for all quorum settings.
	MasterWins bool
}

// EVStore loads and saves the expected-votes tracking barrier.
type EVStore interface {
	// Load returns the stored barrier, or 0 (and creates the record) when
	// there is none yet. An error makes startup fail as in corosync.
	Load() (uint32, error)
	Save(uint32) error
}

// MemoryEVStore is an EVStore kept in memory (tests, simulator). Share one
// across restarts of a simulated node to model its state directory.
type MemoryEVStore struct {
	Value  uint32
	Saves  int
	Failed error // returned by Load and Save when set
}

func (s *MemoryEVStore) Load() (uint32, error) { return s.Value, s.Failed }
func (s *MemoryEVStore) Save(v uint32) error {
	if s.Failed != nil {
		return s.Failed
	}
	s.Value = v
	s.Saves++
	return nil
}

// Startup configuration errors, with corosync's wording.
var (
	ErrNoExpectedVotes      = errors.New("configuration error: nodelist or quorum.expected_votes must be configured!")
	ErrTwoNodeQdevice       = errors.New("configuration error: two_node and quorum device cannot be configured at the same time!")
	ErrATBLMSOdd            = errors.New("configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster")
	ErrQdeviceLMS           = errors.New("configuration error: quorum.device is not compatible with last_man_standing")
	ErrQdeviceATB           = errors.New("configuration error: quorum.device is not compatible with auto_tie_breaker")
	ErrQdeviceDownscale     = errors.New("configuration error: quorum.device is not compatible with allow_downscale")
	ErrQdeviceVotesExpected = errors.New("configuration error: quorum.device.votes must be specified when quorum.expected_votes is set")
	ErrQdeviceVotesUneven   = errors.New("configuration error: quorum.device.votes must be specified when not all nodes votes 1")
	ErrQdeviceVotesTooHigh  = errors.New("configuration error: quorum.device.votes is too high or expected_votes is too low")
	ErrEVTrackingLoad       = errors.New("Unable to load ev_tracking file!")
	ErrNoEVStore            = errors.New("votequorum: expected_votes_tracking needs an EVStore")
	ErrNodeIDZero           = errors.New("votequorum: node id 0 is reserved for the quorum device")
)

// ATBType is runtime.votequorum.atb_type.
type ATBType uint32

const (
	ATBNone ATBType = iota
	ATBLowest
	ATBHighest
	ATBList
)

// parseATB reads auto_tie_breaker_node like corosync: "lowest", "highest",
// or, if the string starts with a non-zero number, a list of ids read until
// the first 0 or non-number.
func parseATB(s string) (ATBType, []uint32) {
	t := ATBNone
	if s == "lowest" {
		t = ATBLowest
	}
	if s == "highest" {
		t = ATBHighest
	}
	if atoi(s) != 0 {
		var list []uint32
		rest := s
		for {
			n, r := strtol(rest)
			rest = r
			if n == 0 {
				break
			}
			list = append(list, uint32(n))
		}
		if len(list) > 0 {
			t = ATBList
			return t, list
		}
	}
	return t, nil
}

// atoi mimics C atoi: leading space, sign, digits; 0 when none.
func atoi(s string) int64 {
	n, _ := strtol(s)
	return n
}

// strtol mimics C strtol(base 10): skips leading white space, reads an
// optional sign and digits, and returns the rest. No digits gives 0 and the
// input unchanged.
func strtol(s string) (int64, string) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return 0, s
	}
	n, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil {
		// overflow: C clamps to LONG_MAX/LONG_MIN
		if s[i] == '-' {
			n = -1 << 63
		} else {
			n = 1<<63 - 1
		}
	}
	return n, s[k:]
}

func ms(v *uint32, def uint32) time.Duration {
	if v == nil {
		return time.Duration(def) * time.Millisecond
	}
	return time.Duration(*v) * time.Millisecond
}
