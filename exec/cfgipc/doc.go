// Package cfgipc is the IPC face of Corosync's configuration service
// (service 1, "cfg") as libcfg and corosync-cfgtool use it: local node
// id, node addresses from the nodelist, per-node link status as a udpu
// node reports it, ring status, shutdown negotiation with trackers
// (TESTSHUTDOWN), and the reload / reopen-log / kill-node requests,
// which it hands to callbacks the daemon provides.
//
// It keeps no cluster state: membership comes from a Members function,
// addresses from the cmap nodelist.
package cfgipc
