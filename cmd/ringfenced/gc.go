package main

import (
	"os"
	"runtime/debug"

	"github.com/sirupsen/logrus"
)

// daemonGCPercent trades memory for fewer collections. A busy ring
// allocates per packet and the daemon's live heap is small, so with Go's
// default (100) the collector runs many times a second and each cycle
// delays the token. In paired runs of cpgbench on 3 netns nodes, 400 gave
// 1.7x the msg/s of 100 at 1 KB and 10 KB. It is a process-wide setting,
// so it belongs to the daemon's main rather than to exec/node (which tests
// run many of in one process). GOGC, when set, wins.
const daemonGCPercent = 400

// setGCPercent applies daemonGCPercent unless GOGC is set.
func setGCPercent(log *logrus.Entry) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(daemonGCPercent)
	log.Debugf("GOGC %d", daemonGCPercent)
}
