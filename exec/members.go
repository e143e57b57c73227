package exec

import (
	"fmt"

	"github.com/ringfence/ringfence/cmap"
)

// SetMemberStore makes the engine keep Corosync's runtime.members.<id>.*
// keys (ip, join_count, status) in store on every configuration change,
// as main.c's member_object_joined/left do. ifaces renders a node's
// addresses the way totem_ifaces_print does ("r(0) ip(10.0.0.1) ").
func (e *Engine) SetMemberStore(store *cmap.Store, ifaces func(nodeID uint32) string) {
	e.memberStore, e.ifaces = store, ifaces
}

func (e *Engine) memberObjects(c ConfChg) {
	s := e.memberStore
	if s == nil {
		return
	}
	for _, id := range c.Left {
		_ = s.Set(fmt.Sprintf("runtime.members.%d.status", id), cmap.Str("left"))
		e.logf(LevelDebug, SubsysMain, "Member left: %s", e.ifaces(id))
	}
	for _, id := range c.Joined {
		prefix := fmt.Sprintf("runtime.members.%d.", id)
		if s.Has(prefix + "ip") {
			n, _ := s.GetUint32(prefix + "join_count")
			_ = s.Set(prefix+"join_count", cmap.U32(n+1))
		} else {
			_ = s.Set(prefix+"ip", cmap.Str(e.ifaces(id)))
			_ = s.Set(prefix+"join_count", cmap.U32(1))
		}
		_ = s.Set(prefix+"status", cmap.Str("joined"))
		e.logf(LevelDebug, SubsysMain, "Member joined: %s", e.ifaces(id))
	}
}
