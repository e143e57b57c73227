package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/sirupsen/logrus"
)

// Process-wide runtime settings belong to the daemon's main, not to
// exec/node, whose tests run many nodes in one process. Each applies
// unless the operator sets its environment variable.
const (
	// daemonProcs: the protocol work is sequential (one goroutine at a
	// time, fed by socket readers that mostly wait in the kernel), as
	// Corosync is one thread. With more Ps the scheduler wakes idle
	// threads on every hand-off and spins looking for work: in cpgbench
	// on 3 netns nodes (2 cores) GOMAXPROCS=1 gave about 1.5x the msg/s
	// at 1 KB and 10 KB and a quarter less CPU per packet. A blocking
	// system call still hands the P to another thread.
	daemonProcs = 1
	// daemonGCPercent trades memory for fewer collections: a busy ring
	// allocates per packet while the live heap is small, so at Go's
	// default (100) the collector runs many times a second and each
	// cycle delays the token. In paired cpgbench runs on 3 nodes, 400
	// gave 1.7x the msg/s of 100 at 1 KB and 10 KB.
	daemonGCPercent = 400
)

// tuneRuntime applies daemonProcs and daemonGCPercent unless GOMAXPROCS
// or GOGC is set.
func tuneRuntime(log *logrus.Entry) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(daemonProcs)
		log.Debugf("GOMAXPROCS %d", daemonProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(daemonGCPercent)
		log.Debugf("GOGC %d", daemonGCPercent)
	}
}
