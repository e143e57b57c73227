package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/exec/node"
	"github.com/ringfence/ringfence/tools/netns"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDaemonSingleNode builds ringfenced and runs it as a one-node ring on
// 127.0.0.1: it forms its ring, holds the pid lock against a second
// instance, persists its ring id and leaves on SIGTERM with exit 0.
func TestDaemonSingleNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ringfenced")
	if out, err := osexec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := netns.FreeLoopbackPort(t, 1)
	conf := strings.Replace(loopbackConf, "transport: udpu\n", fmt.Sprintf("transport: udpu\n\tinterface {\n\t\tlinknumber: 0\n\t\tmcastport: %d\n\t}\n", port), 1) +
		fmt.Sprintf("logging {\n\tto_stderr: yes\n\tto_syslog: no\n}\nsystem {\n\tstate_dir: %s\n}\n", dir)
	confPath := writeConf(t, conf)
	pidFile := filepath.Join(dir, "corosync.pid")
	env := append(os.Environ(), "RINGFENCE_PIDFILE="+pidFile, fmt.Sprintf("RINGFENCE_IPC_PREFIX=rftest%d-", os.Getpid()))

	var log1 syncBuf
	d1 := osexec.Command(bin, "-f", "-c", confPath)
	d1.Env, d1.Stderr = env, &log1
	if err := d1.Start(); err != nil {
		t.Fatal(err)
	}
	defer d1.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log1.String(), "Completed service synchronization, ready to provide service.") {
		if time.Now().After(deadline) {
			t.Fatalf("no completed sync:\n%s", log1.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log1.String(), "A new membership (1.") || !strings.Contains(log1.String(), "Members joined: 1") {
		t.Fatalf("no membership notice:\n%s", log1.String())
	}

	d2 := osexec.Command(bin, "-f", "-c", confPath)
	d2.Env = env
	out, err := d2.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") || d2.ProcessState.ExitCode() != exitAlreadyRunning {
		t.Fatalf("second instance: %v (want exit %d)\n%s", err, exitAlreadyRunning, out)
	}

	if err := d1.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d1.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, log1.String())
	}
	if !strings.Contains(log1.String(), "Corosync Cluster Engine exiting normally") {
		t.Fatalf("no exit notice:\n%s", log1.String())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ringid_1")); err != nil || len(b) != 8 || b[0] == 0 {
		t.Fatalf("ringid_1: %v %x", err, b)
	}
}

// holdPidFileEnv makes the test binary a helper process that holds the
// pid lock of the named file until killed (fcntl locks do not conflict
// within one process, so the holder must be another one).
const holdPidFileEnv = "RINGFENCE_TEST_HOLD_PIDFILE"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdPidFileEnv); path != "" {
		if _, err := node.LockPidFile(path); err != nil {
			fmt.Println("lock:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestAlreadyRunningExits18: with the pid file locked by another process
// (a running corosync or ringfenced), ringfenced -f says so and exits
// with corosync's COROSYNC_DONE_ALREADY_RUNNING, 18.
func TestAlreadyRunningExits18(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "corosync.pid")
	holder := osexec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), holdPidFileEnv+"="+pidFile)
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("holder: %q", line)
	}
	t.Setenv(pidFileEnv, pidFile)
	conf := writeConf(t, loopbackConf+"logging {\n\tto_stderr: yes\n\tto_syslog: no\n}\n")
	code, _, stderr := runCLI("-f", "-c", conf)
	if code != exitAlreadyRunning || exitAlreadyRunning != 18 || !strings.Contains(stderr, "already running") {
		t.Fatalf("exit %d, want 18 (COROSYNC_DONE_ALREADY_RUNNING); stderr:\n%s", code, stderr)
	}
}
