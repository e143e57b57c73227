package exectest

import (
	"fmt"
	"slices"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/wire"
)

// Sent is one message on the bus, as it was multicast.
type Sent struct {
	From uint32
	Msg  exec.Message
}

// Bus is an in-memory agreed-order broadcast for exec engines: every
// message any member sends is delivered, whole, to every member
// (itself included) in one total order, like totem within one ring.
// It models what exec needs from totem and nothing more: no packets,
// no loss, configuration changes on demand.
type Bus struct {
	nodes   map[uint32]*exec.Engine
	members []uint32
	ring    wire.RingID
	queue   []Sent
	// Log records every delivered message in order.
	Log []Sent
	// Completed counts SyncCompleted events per node.
	Completed map[uint32]int
	// Errors collects delivery errors per node (ignored messages).
	Errors map[uint32][]error
	// BeforeCollect, when set, runs for each member before the bus takes
	// its engine's output, so that a test can move service output (e.g.
	// messages a service queued outside sync) into the engine.
	BeforeCollect func(node uint32)
	// OnReady, when set, sees every node's Ready (after the bus took the
	// messages out) so tests can inspect logs.
	OnReady func(node uint32, r exec.Ready)
}

// NewBus returns an empty bus; the first ConfChg starts its ring.
func NewBus() *Bus {
	return &Bus{nodes: map[uint32]*exec.Engine{}, Completed: map[uint32]int{}, Errors: map[uint32][]error{}}
}

// Add attaches an engine (not yet a member).
func (b *Bus) Add(e *exec.Engine) { b.nodes[e.NodeID()] = e }

// Remove detaches node id at once, without a configuration change for
// the others (use ConfChg for that): the node has crashed or moved to
// another bus (a partition).
func (b *Bus) Remove(id uint32) {
	delete(b.nodes, id)
	b.members = slices.DeleteFunc(b.members, func(m uint32) bool { return m == id })
	b.queue = slices.DeleteFunc(b.queue, func(s Sent) bool { return s.From == id })
}

// StartRing sets the ring sequence the next ConfChg advances from, so
// that separate buses (partitions) use distinct rings.
func (b *Bus) StartRing(seq uint64) { b.ring.Seq = seq }

// Engine returns node id's engine.
func (b *Bus) Engine(id uint32) *exec.Engine { return b.nodes[id] }

// Members returns the current membership.
func (b *Bus) Members() []uint32 { return slices.Clone(b.members) }

// Ring returns the current ring id.
func (b *Bus) Ring() wire.RingID { return b.ring }

// collect moves every member's Ready messages into the queue.
func (b *Bus) collect() {
	for _, id := range b.members {
		if b.BeforeCollect != nil {
			b.BeforeCollect(id)
		}
		r := b.nodes[id].Ready()
		for _, m := range r.Messages {
			b.queue = append(b.queue, Sent{From: id, Msg: m})
		}
		if r.SyncCompleted {
			b.Completed[id]++
		}
		if b.OnReady != nil {
			b.OnReady(id, r)
		}
	}
}

// deliverOne hands the head of the queue to every member.
func (b *Bus) deliverOne() {
	s := b.queue[0]
	b.queue = b.queue[1:]
	b.Log = append(b.Log, s)
	payload := s.Msg.Bytes()
	for _, id := range b.members {
		e := b.nodes[id]
		var err error
		switch s.Msg.Group {
		case exec.GroupSync:
			err = e.DeliverSync(s.From, payload, false)
		case exec.GroupServices:
			err = e.DeliverServices(s.From, payload, false)
		default:
			err = fmt.Errorf("exectest: message for unknown group %q", s.Msg.Group)
		}
		if err != nil {
			b.Errors[id] = append(b.Errors[id], err)
		}
	}
}

// Step collects what members sent, delivers at most max queued messages
// (all when max < 0) and then runs every member's scheduled sync work.
// It returns how many messages were delivered.
func (b *Bus) Step(max int) int {
	b.collect()
	n := 0
	for len(b.queue) > 0 && (max < 0 || n < max) {
		b.deliverOne()
		n++
	}
	for _, id := range b.members {
		b.nodes[id].Process()
	}
	return n
}

// Run steps until nothing is queued or pending, or limit steps passed.
// It reports whether the bus went quiet.
func (b *Bus) Run(limit int) bool {
	for range limit {
		b.Step(-1)
		b.collect()
		if len(b.queue) == 0 && !b.anyPending() {
			return true
		}
	}
	return false
}

func (b *Bus) anyPending() bool {
	for _, id := range b.members {
		if b.nodes[id].Pending() {
			return true
		}
	}
	return false
}

// ConfChg installs a new membership (ring seq advanced by 4, rep the
// lowest id) and delivers a transitional and a regular configuration
// change to the members that stay and the members that join.
//
// Messages already queued but not delivered stay queued if their sender
// stays, and are delivered on the new ring after the change (as totem
// sends a node's pending messages on the next ring); messages of nodes
// that leave are dropped.
func (b *Bus) ConfChg(members ...uint32) {
	b.collect()
	members = slices.Clone(members)
	slices.Sort(members)
	old := b.members
	var trans, left, joined []uint32
	for _, id := range old {
		if slices.Contains(members, id) {
			trans = append(trans, id)
		} else {
			left = append(left, id)
		}
	}
	for _, id := range members {
		if !slices.Contains(old, id) {
			joined = append(joined, id)
		}
	}
	b.queue = slices.DeleteFunc(b.queue, func(s Sent) bool { return !slices.Contains(members, s.From) })
	b.ring = wire.RingID{Rep: members[0], Seq: b.ring.Seq + 4}
	for _, id := range members {
		e := b.nodes[id]
		if slices.Contains(old, id) {
			e.ConfChg(exec.ConfChg{Kind: exec.Transitional, Ring: b.ring, Members: slices.Clone(trans), Left: slices.Clone(left)})
		} else {
			// A node that just (re)joined only saw itself in its
			// transitional configuration.
			e.ConfChg(exec.ConfChg{Kind: exec.Transitional, Ring: b.ring, Members: []uint32{id}})
		}
		e.ConfChg(exec.ConfChg{Kind: exec.Regular, Ring: b.ring, Members: slices.Clone(members), Joined: slices.Clone(joined)})
	}
	b.members = members
}

// Send queues messages from node id as if its services multicast them.
func (b *Bus) Send(id uint32, msgs ...exec.Message) { b.nodes[id].Send(msgs...) }
