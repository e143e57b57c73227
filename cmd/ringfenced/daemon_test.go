package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	port := 20000 + rand.IntN(30000)
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
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second instance: %v\n%s", err, out)
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
