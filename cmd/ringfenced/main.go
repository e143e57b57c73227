package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/exec/node"
	"github.com/ringfence/ringfence/totem/heartbeat"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

// corosyncVersion is the Corosync release whose behaviour we follow.
const corosyncVersion = "3.1.7"

// Exit statuses, the ones corosync uses where it has one.
const (
	exitOK          = 0
	exitFailure     = 1
	exitLogConfig   = 7 // COROSYNC_DONE_LOGCONFIGREAD
	exitMainConfig  = 8 // COROSYNC_DONE_MAINCONFIGREAD
	exitUsageFailed = 2
	// exitAlreadyRunning is COROSYNC_DONE_ALREADY_RUNNING: the pid file is
	// locked by another corosync or ringfenced. Scripts and systemd tell
	// it from a real failure by this code.
	exitAlreadyRunning = 18
)

func main() {
	heartbeat.ResponderMain() // first: a re-executed heartbeat responder never returns
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	configPath string
	foreground bool
	testOnly   bool
	version    bool
	printCmap  bool
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ringfenced", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, "c", coroconf.DefaultPath, "corosync config file path")
	fs.BoolVar(&o.foreground, "f", false, "start in the foreground")
	fs.BoolVar(&o.testOnly, "t", false, "test the configuration and exit")
	fs.BoolVar(&o.version, "v", false, "print the version and exit")
	fs.BoolVar(&o.printCmap, "print-cmap", false, "print the cmap keys of the configuration (corosync-cmapctl format) and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringfenced: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errors.New("usage")
	}
	return o, nil
}

// cli runs the command line and returns the exit status.
func cli(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsageFailed
	}
	log := logrus.New()
	log.SetOutput(stderr)
	mainLog := log.WithField("subsys", "MAIN")

	if o.version {
		fmt.Fprintf(stdout, "Ringfence cluster engine, version '%s' (compatible with Corosync Cluster Engine %s)\n", version, corosyncVersion)
		return exitOK
	}

	cfg, err := coroconf.ParseFile(o.configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var ce *coroconf.Error
		if errors.As(err, &ce) && ce.Exit != 0 {
			return ce.Exit
		}
		return exitMainConfig
	}
	for _, w := range cfg.Warnings {
		mainLog.Warn(w)
	}
	// A configuration Corosync accepts but ringfenced cannot run is a bad
	// configuration for ringfenced: -t and a start refuse it alike.
	// --print-cmap still shows what the file says.
	if err := node.CheckTransport(cfg.Transport); err != nil && !o.printCmap {
		fmt.Fprintf(stderr, "%s: %v\n", o.configPath, err)
		return exitMainConfig
	}
	switch {
	case o.printCmap:
		if err := cmap.Dump(stdout, cfg.Entries, false); err != nil {
			mainLog.WithError(err).Error("cannot write the cmap dump")
			return exitFailure
		}
		return exitOK
	case o.testOnly:
		// corosync -t logs this line (at notice level) on success.
		fmt.Fprintln(stderr, "Corosync Cluster Engine exiting normally")
		return exitOK
	}
	tuneRuntime(mainLog)
	stopProfile := startProfile(mainLog)
	err = run(cfg, o.foreground, mainLog)
	stopProfile()
	if err != nil {
		mainLog.Error(err)
		if errors.Is(err, node.ErrAlreadyRunning) {
			return exitAlreadyRunning
		}
		// A node killed by corosync-cfgtool -k exits as Corosync does.
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return exitFailure
	}
	return exitOK
}
