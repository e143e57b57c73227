// Package cpgipc is the IPC face of the CPG service (service 2, "cpg"):
// it decodes libcpg's requests from their raw C structs, calls the pure
// cpg.Service, answers with the exact response sizes libcpg expects, and
// turns the service's callbacks into CONFCHG, DELIVER, TOTEM_CONFCHG and
// PARTIAL_DELIVER events on the right connection.
//
// It owns no cluster state. The exec messages the service queues (joins,
// leaves, multicasts) are handed to a Send function the daemon provides
// (it multicasts them through totem); when they come back in agreed
// order the daemon delivers them to the cpg.Service and calls Flush so
// the resulting callbacks reach the clients.
package cpgipc
