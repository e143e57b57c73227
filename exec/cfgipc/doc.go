// Package cfgipc is the IPC face of Corosync's configuration service
// (service 1, "cfg") as libcfg, corosync-cfgtool, corosync-cpgtool and
// pacemakerd use it: local node id, node addresses from the nodelist,
// per-node link status as a udp/udpu node reports it (link 0 enabled,
// connected when the node is in the processor list, MTU net_mtu, the
// node's own address as source), ring status, shutdown negotiation with
// trackers (TESTSHUTDOWN / REPLYTOSHUTDOWN), and the reload, reopen-log
// and kill-node requests, which it hands to callbacks in Config.
//
// It keeps no cluster state: membership comes from Config.Members,
// addresses from the cmap nodelist. A TRYSHUTDOWN waits for the trackers'
// answers; the daemon calls ExpireShutdown after cfg.shutdown_timeout
// (ShutdownPending tells whether one waits). Config.Shutdown runs once a
// shutdown is agreed.
package cfgipc
