package sim

import (
	"container/heap"
	"time"

	"github.com/ringfence/ringfence/totem/wire"
)

type eventKind uint8

const (
	evPacket eventKind = iota
	evTimer
	evApp
	evFault
)

type event struct {
	at   time.Duration
	seq  uint64 // insertion order breaks ties deterministically
	kind eventKind
	node uint32
	from uint32
	inc  int // receiver incarnation the packet/timer was meant for
	msg  wire.Message
	fn   func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

func (s *Sim) push(e *event) {
	s.evSeq++
	e.seq = s.evSeq
	heap.Push(&s.queue, e)
}
