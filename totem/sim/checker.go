package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
)

// Checker watches every delivery and configuration change and records the
// first violation of virtual synchrony.
type Checker struct {
	err error

	sent   map[uint64]origin
	nodes  map[uint32]*nodeView
	byPos  map[msgPos]uint64        // (ring, seq) → message id
	rings  map[wire.RingID]string   // ring → member list
	epochs map[[2]wire.RingID]epoch // (old ring, new ring) → what was delivered
	Confs  uint64                   // regular configurations installed
}

type origin struct {
	from uint32
	inc  int
}

type msgPos struct {
	ring wire.RingID
	seq  uint32
}

type epoch struct {
	node         uint32
	hashC, hashT uint64
	nC, nT       int
}

type nodeView struct {
	inc        int
	up         bool
	delivered  map[uint64]bool
	lastRing   wire.RingID
	lastSeq    uint32
	haveLast   bool
	ring       wire.RingID
	haveRing   bool
	inTrans    bool
	hashC      uint64
	hashT      uint64
	nC, nT     int
	ownPending map[uint64]bool // broadcast in this incarnation, not yet self-delivered
}

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{
		sent:   map[uint64]origin{},
		nodes:  map[uint32]*nodeView{},
		byPos:  map[msgPos]uint64{},
		rings:  map[wire.RingID]string{},
		epochs: map[[2]wire.RingID]epoch{},
	}
}

// Err is the first violation seen.
func (c *Checker) Err() error { return c.err }

func (c *Checker) fail(msg string) {
	if c.err == nil {
		c.err = fmt.Errorf("violation: %s", msg)
	}
}

func (c *Checker) failf(format string, args ...any) { c.fail(fmt.Sprintf(format, args...)) }

func (c *Checker) nodeStarted(id uint32, _ any) {
	v := c.nodes[id]
	inc := 1
	if v != nil {
		inc = v.inc + 1
	}
	c.nodes[id] = &nodeView{inc: inc, up: true, delivered: map[uint64]bool{}, ownPending: map[uint64]bool{}}
}

func (c *Checker) nodeCrashed(id uint32) {
	if v := c.nodes[id]; v != nil {
		v.up = false
	}
}

func (c *Checker) broadcast(id uint32, inc int, mid uint64) {
	c.sent[mid] = origin{from: id, inc: inc}
	c.nodes[id].ownPending[mid] = true
}

func mix(h, x uint64) uint64 {
	h ^= x
	h *= 0x100000001b3
	return h ^ h>>29
}

func (c *Checker) deliver(id uint32, d *srp.Delivery) {
	v := c.nodes[id]
	if len(d.Payload) < 8 {
		c.failf("node %d delivered a %d-byte message nobody sent", id, len(d.Payload))
		return
	}
	mid := binary.BigEndian.Uint64(d.Payload)
	o, ok := c.sent[mid]
	if !ok || o.from != d.From {
		c.failf("node %d delivered message %x from %d that was never sent by it", id, mid, d.From)
		return
	}
	if v.delivered[mid] {
		c.failf("node %d delivered message %x twice", id, mid)
		return
	}
	v.delivered[mid] = true
	if v.haveLast {
		switch {
		case d.RingID.Seq < v.lastRing.Seq,
			d.RingID.Seq == v.lastRing.Seq && d.RingID != v.lastRing,
			d.RingID == v.lastRing && d.Seq <= v.lastSeq:
			c.failf("node %d delivered %x at %s/%d after %s/%d: order broken", id, mid, d.RingID, d.Seq, v.lastRing, v.lastSeq)
			return
		}
	}
	v.lastRing, v.lastSeq, v.haveLast = d.RingID, d.Seq, true
	pos := msgPos{d.RingID, d.Seq}
	if other, ok := c.byPos[pos]; ok && other != mid {
		c.failf("ring %s seq %d is message %x at node %d but %x elsewhere: agreed order broken", d.RingID, d.Seq, mid, id, other)
		return
	}
	c.byPos[pos] = mid
	if v.inTrans {
		v.hashT, v.nT = mix(v.hashT, mid), v.nT+1
	} else {
		v.hashC, v.nC = mix(v.hashC, mid), v.nC+1
	}
	delete(v.ownPending, mid)
}

func (c *Checker) conf(id uint32, cc *srp.ConfChg) {
	v := c.nodes[id]
	if !contains(cc.Members, id) {
		c.failf("node %d installed %s configuration %s without itself: %v", id, cc.Type, cc.RingID, cc.Members)
		return
	}
	if cc.Type == srp.Transitional {
		if v.inTrans {
			c.failf("node %d installed two transitional configurations in a row", id)
		}
		v.inTrans = true
		return
	}
	if !v.inTrans {
		c.failf("node %d installed regular configuration %s without a transitional one", id, cc.RingID)
	}
	c.Confs++
	members := fmt.Sprint(cc.Members)
	if prev, ok := c.rings[cc.RingID]; ok && prev != members {
		c.failf("ring %s installed with members %s at node %d but %s elsewhere", cc.RingID, members, id, prev)
		return
	}
	c.rings[cc.RingID] = members
	if v.haveRing {
		key := [2]wire.RingID{v.ring, cc.RingID}
		e := epoch{node: id, hashC: v.hashC, hashT: v.hashT, nC: v.nC, nT: v.nT}
		if prev, ok := c.epochs[key]; ok {
			if prev.hashC != e.hashC || prev.nC != e.nC {
				c.failf("nodes %d and %d moved together from ring %s to %s but delivered different messages in %s (%d vs %d)",
					prev.node, id, v.ring, cc.RingID, v.ring, prev.nC, e.nC)
				return
			}
			if prev.hashT != e.hashT || prev.nT != e.nT {
				c.failf("nodes %d and %d delivered different messages in the transitional configuration %s→%s (%d vs %d)",
					prev.node, id, v.ring, cc.RingID, prev.nT, e.nT)
				return
			}
		} else {
			c.epochs[key] = e
		}
	}
	v.ring, v.haveRing, v.inTrans = cc.RingID, true, false
	v.hashC, v.hashT, v.nC, v.nT = 0, 0, 0, 0
}

// CheckFinal runs the end-of-run checks on a converged world: every live
// node delivered its own messages, and every live node delivered the same
// messages in the final ring.
func (c *Checker) CheckFinal(s *Sim) {
	var ref *nodeView
	var refID uint32
	for _, id := range s.ids {
		v := c.nodes[id]
		if v == nil || !v.up {
			continue
		}
		if len(v.ownPending) > 0 {
			for mid := range v.ownPending {
				c.failf("node %d never delivered its own message %x", id, mid)
				return
			}
		}
		if ref == nil {
			ref, refID = v, id
			continue
		}
		if v.ring != ref.ring || v.hashC != ref.hashC || v.nC != ref.nC {
			c.failf("nodes %d and %d are in ring %s/%s but delivered %d/%d messages there", refID, id, ref.ring, v.ring, ref.nC, v.nC)
			return
		}
	}
}

func contains(s []uint32, id uint32) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}
