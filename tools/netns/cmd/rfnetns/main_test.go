package main

import "testing"

func TestParseSizes(t *testing.T) {
	if ns, err := parseSizes("3, 16,32"); err != nil || len(ns) != 3 || ns[2] != 32 {
		t.Fatalf("%v %v", ns, err)
	}
	for _, bad := range []string{"", "1", "x", "3,,4", "999"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
