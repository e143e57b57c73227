package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/totem/wire"
)

// ConfigVersionMismatch is cmap's verdict at the first sync that joined
// other nodes: our non-zero totem.config_version differs from the
// highest one a peer sent. Corosync shuts down; the daemon decides.
type ConfigVersionMismatch struct {
	Mine, Highest uint64
}

func (m ConfigVersionMismatch) Error() string {
	return fmt.Sprintf("Received config version (%d) is different than my config version (%d)! Exiting", m.Highest, m.Mine)
}

// CmapSync is the sync participant and exec handler of the cmap service
// (service 0): at every sync each node multicasts its
// totem.config_version; receivers record it as
// runtime.members.<nodeid>.config_version. It does not implement the
// cmap IPC service.
type CmapSync struct {
	nodeID    uint32
	store     *cmap.Store
	trans     int
	mine      uint64
	highest   uint64
	firstSync bool
	mismatch  *ConfigVersionMismatch
	logs      []LogLine
}

// NewCmapSync returns the cmap sync participant of node nodeID, reading
// and writing store (the main cmap map).
func NewCmapSync(nodeID uint32, store *cmap.Store) *CmapSync {
	return &CmapSync{nodeID: nodeID, store: store, firstSync: true}
}

// ID implements Service.
func (c *CmapSync) ID() ServiceID { return ServiceCMAP }

// Name implements Service.
func (c *CmapSync) Name() string { return "corosync configuration map access" }

// ExecCount implements Service.
func (c *CmapSync) ExecCount() int { return 1 }

func (c *CmapSync) myVersion() uint64 {
	v, err := c.store.GetUint64(ConfigVersionKey)
	if err != nil {
		return 0
	}
	return v
}

// message builds a cmap exec message carrying totem.config_version as
// it is in the store (whatever its type), or NOT_EXIST.
func (c *CmapSync) message(reason uint8) Message {
	it := CmapItem{Key: ConfigVersionKey, Type: CmapValueNotExist}
	if v, err := c.store.Get(ConfigVersionKey); err == nil {
		it.Type = uint8(v.Type)
		it.Value = v.WireBytes()
	}
	iov, err := (&CmapMcast{Reason: reason, Items: []CmapItem{it}}).Encode()
	if err != nil {
		panic(err) // one short fixed key: cannot fail
	}
	return Message{Group: GroupServices, Iov: iov}
}

// ConfigVersionChanged returns the NEW_CONFIG_VERSION message Corosync
// sends when totem.config_version changes at runtime (its tracker); the
// daemon's tracker calls it and multicasts the result.
func (c *CmapSync) ConfigVersionChanged() Message {
	c.mine = c.myVersion()
	return c.message(CmapReasonNewConfigVersion)
}

// Deliver implements Service: record the sender's config version.
func (c *CmapSync) Deliver(from uint32, fn uint16, msg []byte, swapped bool) error {
	m, err := DecodeCmapMcast(msg, swapped)
	if err != nil {
		return err
	}
	if m.Reason != CmapReasonSync && m.Reason != CmapReasonNewConfigVersion {
		return nil // Corosync ignores unknown reasons
	}
	var v uint64
	if it, ok := m.Find(ConfigVersionKey); ok && it.Type == uint8(cmap.TypeUint64) {
		var buf [8]byte
		copy(buf[:], it.Value)
		v = binary.LittleEndian.Uint64(buf[:])
	}
	if from != c.nodeID && v > c.highest {
		c.highest = v
	}
	return c.store.Set(fmt.Sprintf("runtime.members.%d.config_version", from), cmap.U64(v))
}

// SyncInit implements Syncer.
func (c *CmapSync) SyncInit(trans, members []uint32, ring wire.RingID) {
	c.trans = len(trans)
	c.mine = c.myVersion()
	c.highest = c.mine
}

// SyncProcess implements Syncer: one SYNC message.
func (c *CmapSync) SyncProcess() (bool, []Message) {
	return true, []Message{c.message(CmapReasonSync)}
}

// SyncActivate implements Syncer: the config version check, made only at
// the first sync that had a transitional membership.
func (c *CmapSync) SyncActivate() {
	if c.trans == 0 {
		c.logf(LevelDebug, "Single node sync -> no action")
		return
	}
	if !c.firstSync {
		c.logf(LevelDebug, "Not first sync -> no action")
		return
	}
	c.firstSync = false
	if c.mine == 0 {
		c.logf(LevelDebug, "My config version is 0 -> no action")
		return
	}
	if c.highest != c.mine {
		c.mismatch = &ConfigVersionMismatch{Mine: c.mine, Highest: c.highest}
		c.logf(LevelError, "%s", c.mismatch.Error())
	}
}

// SyncAbort implements Syncer.
func (c *CmapSync) SyncAbort() {}

// Mismatch returns the config version verdict once it has been reached
// (nil while there is none). Corosync requests shutdown then.
func (c *CmapSync) Mismatch() *ConfigVersionMismatch { return c.mismatch }

// Logs returns and clears the participant's log lines.
func (c *CmapSync) Logs() []LogLine {
	l := c.logs
	c.logs = nil
	return l
}

func (c *CmapSync) logf(level int, format string, args ...any) {
	c.logs = append(c.logs, LogLine{Level: level, Subsys: "CMAP", Text: fmt.Sprintf(format, args...)})
}
