package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweepIPCRings removes rings of connections whose processes are both
// gone and flight recorders of dead processes, and keeps those of live
// processes and names that are neither.
func TestSweepIPCRings(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	gone := strconv.Itoa(dead.Process.Pid)
	me := strconv.Itoa(os.Getpid())
	dir := t.TempDir()
	keep := []string{"qb-" + me + "-" + gone + "-7-abc", "qb-" + gone + "-" + me + "-7-abc", "qb-x-1-2", "other",
		"qb-corosync-" + me + "-blackbox-data", "qb-corosync-" + me + "-blackbox-header", "qb-corosync-x-blackbox-data", "qb--blackbox-data"}
	drop := []string{"qb-" + gone + "-" + gone + "-8-dir", "qb-" + gone + "-" + gone + "-7-file",
		"qb-corosync-" + gone + "-blackbox-data", "qb-pacemaker-based-" + gone + "-blackbox-header"}
	for _, n := range append(keep, drop[1:]...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("r"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, drop[0], "inner"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := SweepIPCRings(dir); got != len(drop) {
		t.Fatalf("removed %d entries, want %d", got, len(drop))
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s was removed: %v", n, err)
		}
	}
	for _, n := range drop {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Fatalf("%s is still there (%v)", n, err)
		}
	}
}
