package cmap

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// Entry is one key with its value, as returned by iteration.
type Entry struct {
	Key   string
	Value Value
}

// Store is one cmap map. It is safe for concurrent use. Writers never wait
// for trackers: see track.go for how notifications are delivered.
type Store struct {
	mu       sync.RWMutex
	items    map[string]Value
	ro       roSet
	trackers map[*Tracker]struct{}
}

// New returns an empty store with no read-only rules.
func New() *Store {
	return &Store{items: make(map[string]Value), trackers: make(map[*Tracker]struct{})}
}

// Get returns the value of key.
func (s *Store) Get(key string) (Value, error) {
	s.mu.RLock()
	v, ok := s.items[key]
	s.mu.RUnlock()
	if !ok {
		return Value{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return v, nil
}

// Has reports whether key exists.
func (s *Store) Has(key string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.items[key]
	return ok
}

// Len returns the number of keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

// Set stores v under key on behalf of the daemon itself: read-only rules do
// not apply. Setting an identical value (same type and bytes) is a no-op
// and notifies nobody, as in icmap.
func (s *Store) Set(key string, v Value) error { return s.set(key, v, false) }

// ClientSet is Set on behalf of an IPC client: read-only keys are refused
// with ErrReadOnly.
func (s *Store) ClientSet(key string, v Value) error { return s.set(key, v, true) }

func (s *Store) set(key string, v Value, client bool) error {
	if !v.Type.Valid() {
		return fmt.Errorf("%w: type %d", ErrInvalidValue, v.Type)
	}
	if n := v.Type.fixedSize(); n != 0 && len(v.data) != n {
		return fmt.Errorf("%w: %s with %d bytes", ErrInvalidValue, v.Type, len(v.data))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if client && s.ro.match(key) {
		return fmt.Errorf("%w: %s", ErrReadOnly, key)
	}
	old, existed := s.items[key]
	if existed && old.Equal(v) {
		return nil
	}
	if !existed {
		if err := ValidateKeyName(key); err != nil {
			return err
		}
	}
	v.data = append([]byte(nil), v.data...) // the caller keeps its slice
	s.items[key] = v
	if existed {
		s.notifyLocked(key, EventModify, old, v)
	} else {
		s.notifyLocked(key, EventAdd, Value{}, v)
	}
	return nil
}

// Delete removes key (daemon side, no read-only check).
func (s *Store) Delete(key string) error { return s.del(key, false) }

// ClientDelete removes key on behalf of a client, honouring read-only rules.
func (s *Store) ClientDelete(key string) error { return s.del(key, true) }

func (s *Store) del(key string, client bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if client && s.ro.match(key) {
		return fmt.Errorf("%w: %s", ErrReadOnly, key)
	}
	old, ok := s.items[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	delete(s.items, key)
	s.notifyLocked(key, EventDelete, old, Value{})
	return nil
}

// DeletePrefix removes every key starting with prefix (daemon side).
func (s *Store) DeletePrefix(prefix string) {
	for _, e := range s.Iter(prefix) {
		_ = s.Delete(e.Key)
	}
}

// Iter returns a sorted snapshot of all entries whose key starts with prefix
// ("" for all). Corosync's iterator walks a sorted trie; tools such as
// corosync-cmapctl rely on the order.
func (s *Store) Iter(prefix string) []Entry {
	s.mu.RLock()
	out := make([]Entry, 0, len(s.items))
	for k, v := range s.items {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Entry{k, v})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// AdjustInt adds step to an integer key (cmap ADJUST_INT); the value wraps
// like the C integer it models. Floats, strings and binaries are refused.
func (s *Store) AdjustInt(key string, step int32, client bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if client && s.ro.match(key) {
		return fmt.Errorf("%w: %s", ErrReadOnly, key)
	}
	old, ok := s.items[key]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	nv := Value{Type: old.Type, data: append([]byte(nil), old.data...)}
	d := nv.data
	switch old.Type {
	case TypeInt8, TypeUint8:
		d[0] += byte(step)
	case TypeInt16, TypeUint16:
		binary.LittleEndian.PutUint16(d, binary.LittleEndian.Uint16(d)+uint16(step))
	case TypeInt32, TypeUint32:
		binary.LittleEndian.PutUint32(d, binary.LittleEndian.Uint32(d)+uint32(step))
	case TypeInt64, TypeUint64:
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(d)+uint64(int64(step)))
	default:
		return fmt.Errorf("%w: %s is %s, not an integer", ErrTypeMismatch, key, old.Type)
	}
	if old.Equal(nv) {
		return nil
	}
	s.items[key] = nv
	s.notifyLocked(key, EventModify, old, nv)
	return nil
}

func (s *Store) typed(key string, t Type) (Value, error) {
	v, err := s.Get(key)
	if err != nil {
		return v, err
	}
	if v.Type != t {
		return v, fmt.Errorf("%w: %s is %s, wanted %s", ErrTypeMismatch, key, v.Type, t)
	}
	return v, nil
}

// GetUint8, GetUint16, GetUint32, GetUint64 and GetString are typed reads
// that, like icmap_get_uint32 and friends, fail when the type differs.
func (s *Store) GetUint8(key string) (uint8, error) {
	v, err := s.typed(key, TypeUint8)
	if err != nil {
		return 0, err
	}
	return v.data[0], nil
}

func (s *Store) GetUint16(key string) (uint16, error) {
	v, err := s.typed(key, TypeUint16)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(v.data), nil
}

func (s *Store) GetUint32(key string) (uint32, error) {
	v, err := s.typed(key, TypeUint32)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(v.data), nil
}

func (s *Store) GetUint64(key string) (uint64, error) {
	v, err := s.typed(key, TypeUint64)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(v.data), nil
}

func (s *Store) GetString(key string) (string, error) {
	v, err := s.typed(key, TypeString)
	if err != nil {
		return "", err
	}
	return string(v.data), nil
}

// GetFloat32 reads a flt key.
func (s *Store) GetFloat32(key string) (float32, error) {
	v, err := s.typed(key, TypeFloat)
	if err != nil {
		return 0, err
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(v.data)), nil
}
