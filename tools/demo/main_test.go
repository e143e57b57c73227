package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoStory runs the narrated scenario: it fails if the ring does not
// form, re-form after the kill, take the node back, or if the simulator's
// virtual-synchrony checker objects at any step.
func TestDemoStory(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		if err := run(seed); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// TestClusterDemo builds the demo and runs the real-process story: three
// runtimes on 127.0.0.1-3 form one ring, lose a SIGKILLed node and take it
// back. It fails if any of those steps times out.
func TestClusterDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes on loopback; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "cluster").CombinedOutput()
	if err != nil {
		t.Fatalf("cluster demo: %v\n%s", err, out)
	}
	for _, want := range []string{"-> one ring of three formed", "Members left: 3", "-> nodes 1 and 2 re-formed", "-> node 3 rejoined"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
