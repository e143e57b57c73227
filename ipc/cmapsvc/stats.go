package cmapsvc

import (
	"fmt"
	"strings"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
)

// IPCStatsPrefix is where Corosync publishes IPC statistics in the stats map.
const IPCStatsPrefix = "stats.ipcs."

// PublishIPCStats writes the server's counters into the stats map the way
// Corosync names them (stats.ipcs.global.* and
// stats.ipcs.service<id>.<pid>.<conn>.*) and removes the keys of
// connections that are gone. Call it periodically or before serving the
// stats map.
func PublishIPCStats(stats *cmap.Store, srv *ipc.Server) {
	g := srv.Stats()
	stats.Set(IPCStatsPrefix+"global.active", cmap.U64(g.Active))
	stats.Set(IPCStatsPrefix+"global.closed", cmap.U64(g.Closed))
	live := map[string]bool{}
	for _, c := range srv.Conns() {
		p := fmt.Sprintf("%sservice%d.%d.0x%x.", IPCStatsPrefix, c.Service().ID, c.Cred().PID, c.ID())
		live[p] = true
		st := c.Stats()
		queueing := int32(0)
		if st.Queued > 0 {
			queueing = 1
		}
		for k, v := range map[string]cmap.Value{
			"queueing": cmap.I32(queueing), "queued": cmap.U32(st.Queued),
			"invalid_request": cmap.U64(st.InvalidRequest), "overload": cmap.U64(st.Overload),
			"sent": cmap.U32(uint32(st.Dispatched)), "procname": cmap.Str(c.ProcName()),
			"requests": cmap.U64(st.Requests), "responses": cmap.U64(st.Responses),
			"dispatched": cmap.U64(st.Dispatched), "send_retries": cmap.U64(st.SendRetries),
			"recv_retries": cmap.U64(st.RecvRetries), "flow_control": cmap.U32(uint32(st.FlowControl)),
			"flow_control_count": cmap.U64(st.FlowControlCnt),
		} {
			stats.Set(p+k, v)
		}
	}
	for _, e := range stats.Iter(IPCStatsPrefix + "service") {
		// Key: stats.ipcs.service<id>.<pid>.<conn>.<field>
		i := strings.LastIndexByte(e.Key, '.')
		if i < 0 || !live[e.Key[:i+1]] {
			stats.Delete(e.Key)
		}
	}
}
