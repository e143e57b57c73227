package pg

import "bytes"

// Handler receives a message addressed to one of its groups, with the
// group header already stripped.
type Handler func(node uint32, payload []byte, swapped bool)

type instance struct {
	groups  [][]byte
	deliver Handler
}

// Dispatcher hands complete messages to local group instances, the part
// of totempg that corosync's exec layer (group "a") and sync (group
// "sync") register with.
type Dispatcher struct {
	instances []instance
}

// Join registers an instance that receives every message naming at least
// one of groups. Like corosync, an instance hears a message once however
// many of its groups the message names, and instances are visited newest
// first.
func (d *Dispatcher) Join(h Handler, groups ...string) {
	in := instance{deliver: h}
	for _, g := range groups {
		in.groups = append(in.groups, []byte(g))
	}
	d.instances = append(d.instances, in)
}

// Dispatch delivers m to every matching instance and returns how many
// instances got it.
func (d *Dispatcher) Dispatch(m Message) int {
	delivered := 0
	for i := len(d.instances) - 1; i >= 0; i-- {
		in := &d.instances[i]
		if matches(m.Groups, in.groups) {
			in.deliver(m.Node, m.Payload, m.Swapped)
			delivered++
		}
	}
	return delivered
}

func matches(names, mine [][]byte) bool {
	for _, n := range names {
		for _, g := range mine {
			if bytes.Equal(n, g) {
				return true
			}
		}
	}
	return false
}
