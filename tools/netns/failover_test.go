package netns

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogFormedPicksLastNoticeInWindow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.log")
	log := "Nov  3 13:19:55.000 [1] ringfenced notice  [TOTEM ] A new membership (1.1) was formed. Members joined: 1 2\n" +
		"Nov  3 13:19:56.047 [1] ringfenced notice  [TOTEM ] A new membership (1.1d) was formed. Members left: 32\n" +
		"Nov  3 13:19:56.100 [1] corosync notice  [TOTEM ] A new membership (1.21) was formed. Members left: 31\n" +
		"Nov  3 13:19:56.200 [1] ringfenced notice  [QUORUM] Sync members[31]: 1 2\n" +
		"Nov  3 13:19:59.000 [1] ringfenced notice  [TOTEM ] A new membership (1.25) was formed. Members joined: 32\n" +
		"garbage A new membership (\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006 Jan _2 15:04:05.000", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got, ok := LogFormed(path, at("2026 Nov  3 13:19:55.500"), at("2026 Nov  3 13:19:57.000"))
	if !ok || !got.Equal(at("2026 Nov  3 13:19:56.100")) {
		t.Fatalf("got %v %v, want the 13:19:56.100 notice", got, ok)
	}
	if _, ok := LogFormed(path, at("2026 Nov  3 13:20:00.000"), at("2026 Nov  3 13:21:00.000")); ok {
		t.Fatal("found a notice outside the window")
	}
	if _, ok := LogFormed(filepath.Join(dir, "missing"), at("2026 Nov  3 13:19:55.500"), at("2026 Nov  3 13:19:57.000")); ok {
		t.Fatal("found a notice in a missing file")
	}
}
