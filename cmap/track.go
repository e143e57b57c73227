package cmap

import (
	"strings"
	"sync/atomic"
)

// TrackFlags is Corosync's track_type bitmask.
type TrackFlags int32

const (
	TrackDelete TrackFlags = 1
	TrackModify TrackFlags = 2
	TrackAdd    TrackFlags = 4
	TrackPrefix TrackFlags = 8
)

// EventKind is the event number carried in NOTIFY_CALLBACK.
type EventKind int32

const (
	EventDelete EventKind = 1
	EventModify EventKind = 2
	EventAdd    EventKind = 4
)

func (k EventKind) String() string {
	switch k {
	case EventDelete:
		return "delete"
	case EventModify:
		return "modify"
	case EventAdd:
		return "add"
	}
	return "unknown"
}

// Event is one change. Old is the zero Value (Type 0) on add, New on delete.
type Event struct {
	Key  string
	Kind EventKind
	Old  Value
	New  Value
}

// Tracker receives the changes that match its key (or prefix) and mask.
//
// Delivery never blocks the writer. Each tracker owns a bounded queue (a
// buffered channel) filled by the writer while it holds the store lock,
// with a non-blocking send: the lock keeps events of one tracker in the
// order the changes happened, and a full queue drops the event and counts
// it instead of stalling Set. A consumer that sees Dropped() grow has
// missed changes and must re-read the keys it cares about; a cmap IPC
// connection would treat that like corosync treats a client whose event
// queue overflows.
type Tracker struct {
	key     string
	flags   TrackFlags
	ch      chan Event
	dropped atomic.Uint64
	closed  bool // guarded by the store lock
}

// Events is the tracker's queue. It is closed by Untrack.
func (t *Tracker) Events() <-chan Event { return t.ch }

// Dropped counts events lost because the queue was full.
func (t *Tracker) Dropped() uint64 { return t.dropped.Load() }

// Key and Flags describe what the tracker watches.
func (t *Tracker) Key() string       { return t.key }
func (t *Tracker) Flags() TrackFlags { return t.flags }

// Track registers a tracker for key (exact, or a prefix when flags has
// TrackPrefix) with a queue of queueLen events (at least 1).
func (s *Store) Track(key string, flags TrackFlags, queueLen int) *Tracker {
	if queueLen < 1 {
		queueLen = 1
	}
	t := &Tracker{key: key, flags: flags, ch: make(chan Event, queueLen)}
	s.mu.Lock()
	s.trackers[t] = struct{}{}
	s.mu.Unlock()
	return t
}

// Untrack removes the tracker and closes its queue. Safe to call twice.
func (s *Store) Untrack(t *Tracker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	delete(s.trackers, t)
	close(t.ch)
}

func (t *Tracker) matches(key string, kind EventKind) bool {
	if TrackFlags(kind)&t.flags == 0 {
		return false
	}
	if t.flags&TrackPrefix != 0 {
		return strings.HasPrefix(key, t.key)
	}
	return key == t.key
}

// notifyLocked runs with s.mu held for writing.
func (s *Store) notifyLocked(key string, kind EventKind, old, nv Value) {
	if len(s.trackers) == 0 {
		return
	}
	ev := Event{Key: key, Kind: kind, Old: old, New: nv}
	for t := range s.trackers {
		if !t.matches(key, kind) {
			continue
		}
		select {
		case t.ch <- ev:
		default:
			t.dropped.Add(1)
		}
	}
}
