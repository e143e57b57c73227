package main

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/exec/node"
)

// pidFileEnv overrides the pid lock file (default /var/run/corosync.pid,
// the one corosync takes, so that the two never run side by side).
const pidFileEnv = "RINGFENCE_PIDFILE"

// ipcPrefixEnv puts a prefix in front of every IPC service name, so that
// a test daemon does not take the names ("cmap", "cpg", ...) a real
// cluster stack on the same host uses.
const ipcPrefixEnv = "RINGFENCE_IPC_PREFIX"

// run starts the daemon for an accepted configuration. In the foreground
// (-f) it serves until SIGTERM or SIGINT and then leaves the ring cleanly;
// otherwise it starts itself again with -f in a new session, detached from
// the terminal, and returns at once as corosync's fork does.
func run(cfg *coroconf.Config, foreground bool, log *logrus.Entry) error {
	if !foreground {
		return detach(cfg.Path)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pidFile := node.DefaultPidFile
	if v, ok := os.LookupEnv(pidFileEnv); ok {
		pidFile = v
	}
	n, err := node.New(node.Options{Config: cfg, PidFile: pidFile, Version: version, Stderr: os.Stderr, IPCPrefix: os.Getenv(ipcPrefixEnv)})
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

func detach(configPath string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find my own executable to start in the background: %w", err)
	}
	cmd := osexec.Command(self, "-f", "-c", configPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start in the background: %w", err)
	}
	return cmd.Process.Release()
}
