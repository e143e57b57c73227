package node

import (
	"fmt"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
)

// publishServiceList writes internal_configuration.service.<i>.name/ver
// for the loaded service engines, as Corosync's service loader does.
// Corosync loads its engines in service id order, so <i> is the id; the
// engines we do not have (pload 4, wd 7) leave gaps.
func publishServiceList(store *cmap.Store, e *exec.Engine) {
	for id := exec.ServiceID(0); id <= exec.ServiceWD; id++ {
		if e.Service(id) == nil {
			continue
		}
		p := fmt.Sprintf("internal_configuration.service.%d.", id)
		_ = store.Set(p+"name", cmap.Str("corosync_"+id.ShortName()))
		_ = store.Set(p+"ver", cmap.U32(0))
	}
}
