package heartbeat

import (
	"sync"
	"sync/atomic"
)

// Key names one peer on one link. Its layout is the BPF map key.
type Key struct {
	Node uint32
	Link uint32
}

// Record is what a responder saw from one peer on one link. Its layout
// (six little-endian u64) is the BPF map value; times are CLOCK_MONOTONIC
// nanoseconds, 0 = never.
type Record struct {
	LastProbe  uint64 // last probe received from the peer
	LastAnswer uint64 // last answer received from the peer
	RTT        uint64 // round trip of that answer, ns
	Probes     uint64 // probes received
	Answers    uint64 // answers received
	Replied    uint64 // probes answered
}

// merge combines what the kernel and the userspace reader saw of the same
// key (a packet is seen by exactly one of them).
func (r Record) merge(o Record) Record {
	out := Record{
		Probes: r.Probes + o.Probes, Answers: r.Answers + o.Answers, Replied: r.Replied + o.Replied,
		LastProbe: max(r.LastProbe, o.LastProbe), LastAnswer: max(r.LastAnswer, o.LastAnswer),
	}
	out.RTT = r.RTT
	if o.LastAnswer > r.LastAnswer {
		out.RTT = o.RTT
	}
	return out
}

// userTable is the userspace responder's record map and liveness stamp.
type userTable struct {
	stamp atomic.Uint64 // daemon liveness, monotonic ns
	grace atomic.Uint64 // ns; changes when a reload changes the token
	mu    sync.Mutex
	recs  map[Key]*Record
}

func newUserTable(grace uint64) *userTable {
	t := &userTable{recs: map[Key]*Record{}}
	t.grace.Store(grace)
	return t
}

// fresh is the gate both responders apply: answer only while the daemon
// stamped recently enough.
func fresh(now, stamp, grace uint64) bool {
	return stamp != 0 && (stamp >= now || now-stamp <= grace)
}

func (t *userTable) get(k Key) *Record {
	r := t.recs[k]
	if r == nil {
		r = &Record{}
		t.recs[k] = r
	}
	return r
}

// probe records a probe and says whether to answer it.
func (t *userTable) probe(k Key, now uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.get(k).sawProbe(now, fresh(now, t.stamp.Load(), t.grace.Load()))
}

// sawProbe records a probe received at now, answered or not, and
// returns answer. Both userspace responders (in the daemon and the
// responder process) keep their records with it.
func (r *Record) sawProbe(now uint64, answer bool) bool {
	r.LastProbe = now
	r.Probes++
	if answer {
		r.Replied++
	}
	return answer
}

// sawAnswer records an answer received at now to a probe sent at stamp.
func (r *Record) sawAnswer(now, stamp uint64) {
	r.LastAnswer = now
	r.Answers++
	if stamp <= now {
		r.RTT = now - stamp
	}
}

func (t *userTable) answer(k Key, now, stamp uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.get(k).sawAnswer(now, stamp)
}

func (t *userTable) lookup(k Key) Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.recs[k]; r != nil {
		return *r
	}
	return Record{}
}
