package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/sirupsen/logrus"
)

// profileEnv names a directory: when set, the daemon writes a CPU profile
// of its whole run to <dir>/ringfenced-<pid>.pprof (for `go tool pprof`).
// It is for measuring the daemon inside benchmark rings, where a flag
// would mean changing every harness that starts it.
const profileEnv = "RINGFENCE_CPUPROFILE"

// startProfile starts the CPU profile when asked; the returned function
// stops it and is safe to call when none runs.
func startProfile(log *logrus.Entry) func() {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("ringfenced-%d.pprof", os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		log.WithError(err).Warnf("%s: cannot create the profile", profileEnv)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.WithError(err).Warnf("%s: cannot start the profile", profileEnv)
		f.Close()
		return func() {}
	}
	log.Infof("writing a CPU profile to %s", path)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
