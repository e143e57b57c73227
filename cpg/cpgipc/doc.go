// Package cpgipc is the IPC face of the CPG service (service 2, "cpg"):
// it decodes libcpg's requests from their raw C structs, calls the pure
// cpg.Service, answers with the exact response sizes libcpg expects, and
// turns the service's callbacks into CONFCHG, DELIVER, TOTEM_CONFCHG and
// PARTIAL_DELIVER events on the right connection.
//
// It owns no cluster state. The exec messages the service queues (joins,
// leaves, multicasts) are handed to the send function given to New (the
// daemon multicasts them through totem); when they come back in agreed
// order the daemon delivers them to the cpg.Service (through the exec
// engine) and calls Flush so the resulting callbacks reach the clients.
// Wiring in the daemon's owner loop:
//
//	h := cpgipc.New(cpgSvc, engine.Send)     // engine.Register(cpgSvc) too
//	srv.Serve(h.IPCService())
//	... after srv.Dispatch, engine deliveries and sync steps: h.Flush()
//
// The handler owns cpgSvc.Ready(). MCAST is asynchronous in Corosync (no
// response ever, not even TRY_AGAIN or INVALID_PARAM): a daemon that
// must refuse one (sync in progress, totem queue full) drops it with a
// log line rather than answering.
package cpgipc
