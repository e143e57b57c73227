package transport

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
)

// memberTable maps nodeids to addresses and back. It is replaced whole on
// SetMembers so the reader goroutine can look sources up without a lock.
type memberTable struct {
	p atomic.Pointer[memberSet]
}

type memberSet struct {
	list   []Member // in nodelist order: multicast fan-out order
	byID   map[uint32]netip.Addr
	byAddr map[netip.Addr]uint32
}

func newMemberSet(members []Member) (*memberSet, error) {
	s := &memberSet{
		list:   slices.Clone(members),
		byID:   make(map[uint32]netip.Addr, len(members)),
		byAddr: make(map[netip.Addr]uint32, len(members)),
	}
	for _, m := range members {
		if m.NodeID == 0 {
			return nil, fmt.Errorf("transport: member %s: nodeid 0 is reserved", m.Addr)
		}
		a := m.Addr.Unmap()
		if !a.IsValid() {
			return nil, fmt.Errorf("transport: member %d has no address", m.NodeID)
		}
		if _, dup := s.byID[m.NodeID]; dup {
			return nil, fmt.Errorf("transport: nodeid %d listed twice", m.NodeID)
		}
		if _, dup := s.byAddr[a]; dup {
			return nil, fmt.Errorf("transport: address %s listed twice", a)
		}
		s.byID[m.NodeID] = a
		s.byAddr[a] = m.NodeID
	}
	for i := range s.list {
		s.list[i].Addr = s.list[i].Addr.Unmap()
	}
	return s, nil
}

func (t *memberTable) set(members []Member) error {
	s, err := newMemberSet(members)
	if err != nil {
		return err
	}
	t.p.Store(s)
	return nil
}

func (t *memberTable) get() *memberSet {
	if s := t.p.Load(); s != nil {
		return s
	}
	return &memberSet{}
}

func (t *memberTable) addr(id uint32) (netip.Addr, bool) {
	a, ok := t.get().byID[id]
	return a, ok
}

func (t *memberTable) node(a netip.Addr) (uint32, bool) {
	id, ok := t.get().byAddr[a.Unmap()]
	return id, ok
}
