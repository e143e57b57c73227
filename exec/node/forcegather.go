package node

import "github.com/ringfence/ringfence/cmap"

// keyForceGather is Corosync's trigger key: any change that leaves it
// other than the string "no" (a set, a delete, another type) forces the
// node into GATHER, and the key is reset to "no"
// (corosync-cmapctl -s runtime.force_gather str yes).
const keyForceGather = "runtime.force_gather"

func (n *Node) startForceGather() {
	_ = n.store.Set(keyForceGather, cmap.Str("no"))
	n.forceGather = n.store.Track(keyForceGather, cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete, 16)
}

// pollForceGather acts on the changes of the trigger key; only IPC
// clients change it, so the loop polls after each IPC request.
func (n *Node) pollForceGather() {
	if n.forceGather == nil {
		return
	}
	for {
		select {
		case <-n.forceGather.Events():
		default:
			return
		}
		if v, err := n.store.GetString(keyForceGather); err == nil && v == "no" {
			continue // our own reset, or a client setting "no"
		}
		_ = n.store.Set(keyForceGather, cmap.Str("no"))
		n.log.WithField("subsys", SubsysMain).Error("Forcing into GATHER state")
		n.srp.Tick(n.now())
		n.srp.ForceGather()
	}
}
