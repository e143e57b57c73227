package node

import (
	"reflect"

	"github.com/ringfence/ringfence/totem/srp"
)

// clearStats is corosync-cmapctl -C: "totem" and "all" restart the
// stats.srp counters from zero (Corosync zeroes totemsrp's stats struct);
// srp's own counters keep running, so the node remembers where they
// stood and publishes the difference. knet has nothing to clear here.
// "ipc" and "all" zero the IPC server's counters, "schedmiss" and "all"
// forget the scheduling misses. Our own stats.ringfence counters restart
// with "totem" and "all".
func (n *Node) clearStats(what string) {
	if what == "totem" || what == "all" {
		n.srpBase = n.srp.Stats()
		n.clearTotemHealth()
		n.clearExtStats()
	}
	if (what == "ipc" || what == "all") && n.ipcSrv != nil {
		n.ipcSrv.ClearStats()
	}
	if what == "schedmiss" || what == "all" {
		n.clearSchedmiss()
	}
}

// srpStats is srp's counters since the last clear. ContinuousGather is a
// level, not a count, and is passed through.
func (n *Node) srpStats() srp.Stats {
	st := n.srp.Stats()
	cur := reflect.ValueOf(&st).Elem()
	base := reflect.ValueOf(n.srpBase)
	for i := range cur.NumField() {
		f := cur.Field(i)
		if f.Kind() != reflect.Uint64 || cur.Type().Field(i).Name == "ContinuousGather" {
			continue
		}
		if b := base.Field(i).Uint(); f.Uint() >= b {
			f.SetUint(f.Uint() - b)
		}
	}
	return st
}
