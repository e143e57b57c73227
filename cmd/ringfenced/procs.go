package main

import (
	"os"
	"runtime"

	"github.com/sirupsen/logrus"
)

// The daemon's work is one event-loop goroutine (exec/node) fed by socket
// readers that mostly wait in the kernel, as Corosync is one thread. With
// more Ps the Go scheduler wakes idle threads for every hand-off between
// those goroutines and spins looking for work, which costs CPU the ring
// needs: in cpgbench on 3 netns nodes (2 cores) GOMAXPROCS=1 gave about
// 1.5x the msg/s at 1 KB and 10 KB and a quarter less CPU per packet than
// the default. A blocking syscall still hands the P to another thread, so
// one P does not serialise behind slow I/O. The GOMAXPROCS environment
// variable, when set, wins.
const daemonProcs = 1

// limitProcs applies daemonProcs unless GOMAXPROCS is set.
func limitProcs(log *logrus.Entry) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(daemonProcs)
	log.Debugf("GOMAXPROCS %d", daemonProcs)
}
