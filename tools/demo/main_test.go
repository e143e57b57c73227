package main

import "testing"

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
