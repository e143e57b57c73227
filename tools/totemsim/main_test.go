package main

import (
	"os"
	"strings"
	"testing"
)

func TestTotemsimRunsSeedsAndReports(t *testing.T) {
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	code := run([]string{"-nodes", "2-5", "-seeds", "8", "-faults", "all"})
	w.Close()
	os.Stdout = old
	buf := make([]byte, 1<<16)
	n, _ := r.Read(buf)
	out := string(buf[:n])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if !strings.Contains(out, "seeds=8 violations=0 delivered=") || !strings.Contains(out, "configurations=") {
		t.Fatalf("final line missing: %q", out)
	}
}

func TestTotemsimRejectsBadFlags(t *testing.T) {
	if code := run([]string{"-nodes", "0-40"}); code != 2 {
		t.Fatalf("bad node range: exit %d, want 2", code)
	}
	if code := run([]string{"-faults", "meteor"}); code != 2 {
		t.Fatalf("bad fault: exit %d, want 2", code)
	}
}
