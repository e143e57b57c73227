package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
)

func TestSettingsFromLoopbackConf(t *testing.T) {
	cfg := parseFor(t, loopbackConf(3, 6000, 1000)+"system {\n\tstate_dir: /tmp/rfstate\n}\n", netip.MustParseAddr("127.0.0.2"))
	s, err := SettingsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.NodeID != 2 || s.Port != 6000 || s.NetMTU != 1500 || s.StateDir != "/tmp/rfstate" || s.AllowUnlisted {
		t.Fatalf("settings %+v", s)
	}
	if len(s.Members) != 3 || s.Members[2].NodeID != 3 || s.Members[2].Addr != netip.MustParseAddr("127.0.0.3") {
		t.Fatalf("members %v", s.Members)
	}
	// token 1000 + (3-2)·650 coefficient, consensus 1.2·token.
	if s.Timing.Token != 1650*time.Millisecond || s.Timing.Consensus != 1980*time.Millisecond {
		t.Fatalf("timing %+v", s.Timing)
	}
	if !s.Logging.ToStderr || s.Logging.ToSyslog {
		t.Fatalf("logging %+v", s.Logging)
	}
}

func TestSettingsRefuseKnet(t *testing.T) {
	text := strings.Replace(loopbackConf(2, 6000, 1000), "transport: udpu", "transport: knet", 1)
	_, err := SettingsFromConfig(parseFor(t, text, netip.MustParseAddr("127.0.0.1")))
	if err == nil || !strings.Contains(err.Error(), `"knet" is not supported`) {
		t.Fatalf("err %v", err)
	}
}

func TestSettingsUDPMulticastAddress(t *testing.T) {
	text := strings.Replace(loopbackConf(2, 6000, 1000), "transport: udpu", "transport: udp", 1)
	s, err := SettingsFromConfig(parseFor(t, text, netip.MustParseAddr("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	if !s.McastAddr.IsMulticast() {
		t.Fatalf("mcastaddr %v", s.McastAddr)
	}
}

func TestLogSettingsAndFormat(t *testing.T) {
	text := loopbackConf(1, 6000, 1000)
	text = strings.Replace(text, "logging {\n\tto_stderr: yes\n\tto_syslog: no\n}", "logging {\n\tto_stderr: yes\n\tto_syslog: no\n\ttimestamp: off\n\tlogger_subsys {\n\t\tsubsys: TOTEM\n\t\tdebug: on\n\t}\n}", 1)
	cfg := parseFor(t, text, netip.MustParseAddr("127.0.0.1"))
	ls := logSettingsFromEntries(cfg.Entries)
	if !ls.SubsysDebug["TOTEM"] || ls.Debug || ls.Timestamp != "off" {
		t.Fatalf("log settings %+v", ls)
	}
	var buf bytes.Buffer
	lg, closer, err := NewLogger(ls, &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	lg.WithField("subsys", SubsysTotem).Info("A processor failed, forming new configuration.")
	lg.WithField("subsys", SubsysTotem).Debug("totem detail")
	lg.WithField("subsys", SubsysMain).Debug("main detail")
	lg.WithField("subsys", SubsysQuorum).Warn("careful")
	out := buf.String()
	for _, want := range []string{
		"ringfenced notice  [TOTEM ] A processor failed, forming new configuration.\n",
		"ringfenced debug   [TOTEM ] totem detail\n",
		"ringfenced warning [QUORUM] careful\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "main detail") {
		t.Errorf("MAIN debug printed although only TOTEM has debug on:\n%s", out)
	}
}

func TestLogfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corosync.log")
	lg, closer, err := NewLogger(LogSettings{ToLogfile: true, Logfile: path, Timestamp: "hires"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lg.WithField("subsys", SubsysMain).Info("Completed service synchronization, ready to provide service.")
	closer.Close()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "[MAIN  ] Completed service synchronization") {
		t.Fatalf("logfile: %q", b)
	}
	if lg.GetLevel() != logrus.InfoLevel {
		t.Fatalf("level %v without debug", lg.GetLevel())
	}
}

func TestSdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}

// TestPidFileExcludesSecondProcess locks the file here and has a child
// process (this test binary again) try the same: fcntl locks only exclude
// other processes.
func TestPidFileExcludesSecondProcess(t *testing.T) {
	if p := os.Getenv("RINGFENCE_PIDLOCK_CHILD"); p != "" {
		_, err := LockPidFile(p)
		switch {
		case errors.Is(err, ErrAlreadyRunning):
			os.Exit(3)
		case err != nil:
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "corosync.pid")
	pf, err := LockPidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	child := func() int {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPidFileExcludesSecondProcess$")
		cmd.Env = append(os.Environ(), "RINGFENCE_PIDLOCK_CHILD="+path)
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := child(); code != 3 {
		t.Fatalf("second process got the lock (exit %d)", code)
	}
	// Read only now: closing any descriptor of the file drops our fcntl
	// lock (POSIX), which is why the daemon never opens it twice.
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file holds %q", b)
	}
	pf.Release()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if code := child(); code != 0 {
		t.Fatalf("lock not free after release (exit %d)", code)
	}
}

func FuzzSettingsFromConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "conf", "*.conf"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(loopbackConf(3, 5405, 1000)))
	env := coroconf.DefaultEnv()
	env.Hostname = "fuzz"
	env.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("10.0.0.1")}
	env.Resolve = func(string) []netip.Addr { return nil }
	env.ReverseNames = nil
	env.NoUidgidDir = true
	env.ReadFile = func(string) ([]byte, error) { return make([]byte, 128), nil }
	lookupHost = func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("no DNS while fuzzing") }
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := coroconf.Parse("fuzz.conf", data, env)
		if err != nil {
			return
		}
		s, err := SettingsFromConfig(cfg)
		if err != nil {
			return
		}
		if _, ok := s.Local(); !ok || s.Port == 0 || len(s.Members) == 0 {
			t.Fatalf("accepted settings without a local node or port: %+v", s)
		}
	})
}
