package exec

import "github.com/ringfence/ringfence/totem/wire"

// Group names of the two totempg groups Corosync uses.
const (
	GroupServices = "a"    // exec messages of every service
	GroupSync     = "sync" // the synchronisation protocol
)

// Message is one message to multicast. Iov keeps the pieces separate the
// way the Corosync sender passes its iovecs: totem/pg's Packer packs per
// iovec, so the boundaries show on the wire.
type Message struct {
	Group string
	Iov   [][]byte
}

// Bytes returns the message as one slice.
func (m Message) Bytes() []byte {
	var n int
	for _, p := range m.Iov {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range m.Iov {
		out = append(out, p...)
	}
	return out
}

// ServiceMessage wraps exec message pieces for group "a".
func ServiceMessage(iov ...[]byte) Message { return Message{Group: GroupServices, Iov: iov} }

// Service is one exec service as the engine sees it.
type Service interface {
	// ID is the service number (the high half of the header id).
	ID() ServiceID
	// Name is the long name used in sync log lines (Corosync's engine
	// name, e.g. "corosync cluster closed process group service v1.01").
	Name() string
	// ExecCount is the number of exec handlers: fn ids ≥ ExecCount are
	// dropped by the engine before Deliver is called.
	ExecCount() int
	// Deliver handles one exec message in agreed order. msg is the whole
	// message (header included); swapped says the sender had the other
	// byte order, and the service converts its own fields (Corosync's
	// exec_endian_convert_fn). An error means the message was malformed
	// and dropped; the engine counts it.
	Deliver(from uint32, fn uint16, msg []byte, swapped bool) error
}

// Syncer is implemented by services that take part in the sync protocol
// (Corosync's sync_init/sync_process/sync_activate/sync_abort).
type Syncer interface {
	// SyncInit starts a sync: trans is the transitional membership
	// restricted to the new members, members the new membership.
	SyncInit(trans, members []uint32, ring wire.RingID)
	// SyncProcess does (or retries) the service's sync traffic. It
	// returns the messages to multicast now and whether it is done; while
	// it is not done the engine calls it again on the next Process.
	SyncProcess() (done bool, msgs []Message)
	// SyncActivate runs when every member has passed this service's
	// barrier: all sync messages have been delivered everywhere.
	SyncActivate()
	// SyncAbort runs when a new configuration change interrupts the
	// service while it is processing.
	SyncAbort()
}

// ConfChgHandler is implemented by services that want every
// configuration change (Corosync's confchg_fn), transitional and regular.
type ConfChgHandler interface {
	ConfChg(c ConfChg)
}

// ConfChgKind says which half of a membership change this is.
type ConfChgKind uint8

// Totem delivers a transitional configuration (the survivors of the old
// ring) and then the regular one (the new ring). Values as Corosync's
// enum totem_configuration_type.
const (
	Regular      ConfChgKind = 0
	Transitional ConfChgKind = 1
)

func (k ConfChgKind) String() string {
	if k == Transitional {
		return "TRANSITIONAL"
	}
	return "REGULAR"
}

// ConfChg is one configuration change as totem reports it.
type ConfChg struct {
	Kind    ConfChgKind
	Ring    wire.RingID
	Members []uint32
	Left    []uint32
	Joined  []uint32
}
