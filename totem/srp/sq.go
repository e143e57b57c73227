package srp

import "github.com/ringfence/ringfence/totem/wire"

// Sequence numbers compare in serial arithmetic like Corosync's sq.h so
// that a long-lived ring survives wrap-around.

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLTE(a, b uint32) bool { return a == b || seqLT(a, b) }

// sortQueue holds the messages of one ring keyed by seq, with per-seq miss
// counters used to delay retransmit requests (miss_count_const).
type sortQueue struct {
	head  uint32 // last released seq; valid seqs are head+1 .. head+QueueRtrItemsMax-1
	items map[uint32]*item
	miss  map[uint32]int
}

type item struct {
	from      uint32 // header nodeid
	system    uint32 // system_from
	seq       uint32
	ringID    wire.RingID
	payload   []byte
	guarantee uint32
	encap     uint8
	thisSeqno uint32
}

func newSortQueue(head uint32) *sortQueue {
	return &sortQueue{head: head, items: map[uint32]*item{}, miss: map[uint32]int{}}
}

func (q *sortQueue) inRange(seq uint32) bool {
	d := seq - q.head
	return d != 0 && d < QueueRtrItemsMax && seqLT(q.head, seq)
}

func (q *sortQueue) get(seq uint32) *item { return q.items[seq] }

func (q *sortQueue) add(seq uint32, it *item) {
	q.items[seq] = it
	delete(q.miss, seq)
}

// missCount bumps and returns how often seq was found missing.
func (q *sortQueue) missCount(seq uint32) int {
	q.miss[seq]++
	return q.miss[seq]
}

// release forgets everything up to and including seq.
func (q *sortQueue) release(seq uint32) {
	for s := q.head + 1; seqLTE(s, seq); s++ {
		delete(q.items, s)
		delete(q.miss, s)
	}
	if seqLT(q.head, seq) {
		q.head = seq
	}
}
