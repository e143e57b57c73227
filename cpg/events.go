package cpg

import (
	"fmt"
	"strings"

	"github.com/ringfence/ringfence/totem/wire"
)

// ClientID identifies one local IPC connection (one cpg_handle_t). The
// IPC layer chooses it; it also goes out as the opaque connection value
// in the source field of MCAST messages.
type ClientID uint64

// Address is mar_cpg_address_t: a process and, in confchg lists, why it
// is there.
type Address struct {
	NodeID uint32
	PID    uint32
	Reason uint32
}

func (a Address) String() string {
	if a.Reason == ReasonUndefined {
		return fmt.Sprintf("%d/%d", a.NodeID, a.PID)
	}
	return fmt.Sprintf("%d/%d:%s", a.NodeID, a.PID, reasonNames[a.Reason])
}

var reasonNames = map[uint32]string{
	ReasonJoin: "join", ReasonLeave: "leave", ReasonNodeDown: "nodedown",
	ReasonNodeUp: "nodeup", ReasonProcDown: "procdown",
}

// EventKind names the callback a client receives.
type EventKind uint8

// The libcpg callbacks (their IPC response ids in parentheses).
const (
	EventConfchg        EventKind = iota + 1 // CONFCHG_CALLBACK (4)
	EventDeliver                             // DELIVER_CALLBACK (5)
	EventTotemConfchg                        // TOTEM_CONFCHG_CALLBACK (13)
	EventPartialDeliver                      // PARTIAL_DELIVER_CALLBACK (17)
)

// Event is one callback for one local client, in the order the client
// must receive it.
type Event struct {
	Client ClientID
	Kind   EventKind
	Group  string

	// EventConfchg
	Members, Left, Joined []Address

	// EventDeliver, EventPartialDeliver: the sending process, the data
	// (the fragment for a partial delivery), the whole message length
	// and the fragment type.
	NodeID uint32
	PID    uint32
	Data   []byte
	MsgLen uint32
	Type   uint32

	// EventTotemConfchg
	Ring  wire.RingID
	Nodes []uint32
}

func addrs(a []Address) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// String renders the event compactly, for logs and tests.
func (e Event) String() string {
	switch e.Kind {
	case EventConfchg:
		return fmt.Sprintf("c%d confchg %s members=%s left=%s joined=%s", e.Client, e.Group, addrs(e.Members), addrs(e.Left), addrs(e.Joined))
	case EventDeliver:
		return fmt.Sprintf("c%d deliver %s from %d/%d %q", e.Client, e.Group, e.NodeID, e.PID, e.Data)
	case EventPartialDeliver:
		return fmt.Sprintf("c%d partial %s from %d/%d type %d len %d %q", e.Client, e.Group, e.NodeID, e.PID, e.Type, e.MsgLen, e.Data)
	case EventTotemConfchg:
		return fmt.Sprintf("c%d totem ring %s nodes=%v", e.Client, e.Ring, e.Nodes)
	}
	return fmt.Sprintf("c%d event %d", e.Client, e.Kind)
}
