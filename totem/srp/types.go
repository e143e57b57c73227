package srp

import (
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/totem/wire"
)

// State is the membership state (Corosync's memb_state).
type State uint8

const (
	StateOperational State = iota + 1
	StateGather
	StateCommit
	StateRecovery
)

func (s State) String() string {
	switch s {
	case StateOperational:
		return "OPERATIONAL"
	case StateGather:
		return "GATHER"
	case StateCommit:
		return "COMMIT"
	case StateRecovery:
		return "RECOVERY"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Guarantee is the delivery guarantee a sender asks for. Corosync 3.x
// carries it in the mcast header but receivers treat both the same.
type Guarantee uint32

const (
	Agreed Guarantee = 0
	Safe   Guarantee = 1
)

// Broadcast errors.
var (
	ErrQueueFull = fmt.Errorf("srp: send queue full")
	ErrStopped   = fmt.Errorf("srp: node has left")
)

// Packet is a message to put on the network. To == 0 means multicast to
// every node of the nodelist; otherwise it is a unicast (tokens).
type Packet struct {
	To  uint32
	Msg wire.Message
}

// ConfType tells a transitional from a regular configuration.
type ConfType uint8

const (
	Transitional ConfType = iota
	Regular
)

func (c ConfType) String() string {
	if c == Transitional {
		return "TRANSITIONAL"
	}
	return "REGULAR"
}

// ConfChg is a configuration change in Corosync's confchg_fn shape.
type ConfChg struct {
	Type    ConfType
	RingID  wire.RingID
	Members []uint32
	Left    []uint32 // transitional only
	Joined  []uint32 // regular only
	// Failed lists the left members that did not announce a clean LEAVE.
	Failed []uint32
}

// Notice is the operator-facing line Corosync logs for a REGULAR change:
// "A new membership (1.9) was formed. Members joined: 2 3 left: 4".
func (c ConfChg) Notice() string {
	var b strings.Builder
	fmt.Fprintf(&b, "A new membership (%s) was formed. Members", c.RingID)
	if len(c.Joined) > 0 {
		b.WriteString(" joined:" + idList(c.Joined))
	}
	if len(c.Left) > 0 {
		b.WriteString(" left:" + idList(c.Left))
	}
	return b.String()
}

// LogFields describes the change for a logrus entry:
// log.WithFields(cc.LogFields()).Notice(cc.Notice()).
func (c ConfChg) LogFields() logrus.Fields {
	return logrus.Fields{
		"subsys":  "TOTEM",
		"conf":    c.Type.String(),
		"ring_id": c.RingID.String(),
		"members": c.Members,
		"left":    c.Left,
		"joined":  c.Joined,
		"failed":  c.Failed,
	}
}

// LogFields describes a state transition for a logrus entry.
func (s StateChange) LogFields() logrus.Fields {
	return logrus.Fields{"subsys": "TOTEM", "from": s.From.String(), "to": s.To.String(), "reason": s.Reason}
}

// idList prints nodeids as Corosync's notices do: " 1 2 3".
func idList(ids []uint32) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, " %d", id)
	}
	return b.String()
}

// Delivery is one application message delivered in agreed order.
type Delivery struct {
	From    uint32
	Payload []byte
	// RingID and Seq name the ring the message was originally sent in and
	// its sequence number there.
	RingID wire.RingID
	Seq    uint32
	// Recovered is true for old-ring messages delivered while installing
	// a new configuration.
	Recovered bool
}

// Event is either a delivery or a configuration change.
type Event struct {
	Msg  *Delivery
	Conf *ConfChg
}

// StateChange records a membership state transition and why it happened
// (Corosync's gather_state_from reasons for GATHER).
type StateChange struct {
	From, To State
	Reason   string
}

// Ready is everything the caller must carry out after feeding inputs.
type Ready struct {
	Packets      []Packet
	Events       []Event
	StateChanges []StateChange
	// Notices are operator-facing lines worded as Corosync words them
	// ("A processor failed, forming new configuration.", ...).
	Notices []string
	// Debug lines, worded as Corosync's debug-level lines.
	Debug []string
	// TokenVisit says a valid token was handled in this Ready: once its
	// packets are sent and its deliveries made, call TokenSent, which
	// ends the visit's hold time (avg_token_workload) there.
	TokenVisit bool
	// Deadline is when Tick must be called next; 0 means no timer runs.
	Deadline time.Duration
}

// Empty reports whether there is nothing to do besides arming the timer.
func (r Ready) Empty() bool {
	return len(r.Packets) == 0 && len(r.Events) == 0 && len(r.StateChanges) == 0 && len(r.Notices) == 0 && len(r.Debug) == 0 && !r.TokenVisit
}
