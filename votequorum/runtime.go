package votequorum

import (
	"fmt"
	"sort"
)

// RuntimeValue is a runtime.votequorum.* cmap value: U8 keys hold 0/1,
// U32 keys a number.
type RuntimeValue struct {
	U8    bool // the key is a uint8 (else a uint32)
	Value uint32
}

func (v RuntimeValue) String() string {
	if v.U8 {
		return fmt.Sprintf("u8:%d", v.Value)
	}
	return fmt.Sprintf("u32:%d", v.Value)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func (m *Machine) setRuntimeU8(key string, v bool) {
	m.setRuntime(key, RuntimeValue{U8: true, Value: b2u(v)})
}

func (m *Machine) setRuntimeU32(key string, v uint32) {
	m.setRuntime(key, RuntimeValue{Value: v})
}

func (m *Machine) setRuntime(key string, v RuntimeValue) {
	if old, ok := m.runtime[key]; !ok || old != v {
		m.runtime[key] = v
		m.runtimeGen++
	}
}

// RuntimeGen counts changes of the runtime keys, so that a driver calling
// after every event copies RuntimeKeys only when something changed.
func (m *Machine) RuntimeGen() uint64 { return m.runtimeGen }

// RuntimeKey is one runtime.votequorum.* key and its value.
type RuntimeKey struct {
	Key   string
	Value RuntimeValue
}

// RuntimeKeys returns the runtime.votequorum.* keys corosync would have
// written to cmap by now, sorted by name. Keys appear when corosync first
// writes them (lowest_node_id only after the first quorate moment,
// wait_for_all_status only with wait_for_all, and so on). The daemon copies
// them into its cmap store after each step; an unchanged value makes no
// cmap event there.
func (m *Machine) RuntimeKeys() []RuntimeKey {
	keys := make([]RuntimeKey, 0, len(m.runtime))
	for k, v := range m.runtime {
		keys = append(keys, RuntimeKey{k, v})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key })
	return keys
}
