package main

import (
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
)

// errDaemonNotBuilt is returned until the event loop exists.
var errDaemonNotBuilt = errors.New("the ringfenced daemon is not built yet: only -t, -v and --print-cmap work in this version")

// run is where the daemon's event loop will live: load cfg into the cmap
// store, start the transports, totem, the services and IPC, then serve
// until told to stop. foreground corresponds to corosync's -f.
func run(cfg *coroconf.Config, foreground bool, log *logrus.Entry) error {
	_ = cfg
	_ = foreground
	_ = log
	return errDaemonNotBuilt
}
