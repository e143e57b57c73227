package node

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
)

func TestMonitorFollowsCorosyncsMon(t *testing.T) {
	store := cmap.New()
	var out strings.Builder
	lg := logrus.New()
	lg.SetOutput(io.MultiWriter(&out))
	lg.SetLevel(logrus.DebugLevel)
	m := newMonitor(store, lg.WithField("subsys", "MON"))
	mem := m.res[0]
	value := 42.0
	mem.read = func() (float64, bool) { return value, true }
	const p = "resources.system.memory_used."
	str := func(key string) string {
		t.Helper()
		s, err := store.GetString(key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return s
	}
	typeOf := func(key string) cmap.Type {
		v, err := store.Get(key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return v.Type
	}
	// The keys Corosync's mon creates at start.
	for key, want := range map[string]cmap.Type{
		p + "current": cmap.TypeInt32, p + "last_updated": cmap.TypeUint64, p + "state": cmap.TypeString, p + "poll_period": cmap.TypeUint64,
		"resources.system.load_15min.current": cmap.TypeDouble, "resources.system.load_15min.poll_period": cmap.TypeUint64,
	} {
		if got := typeOf(key); got != want {
			t.Errorf("%s: type %v, want %v", key, got, want)
		}
	}
	if str(p+"state") != "stopped" {
		t.Fatalf("state %q at start", str(p+"state"))
	}
	now := time.Unix(1000, 0)
	set := func(key, v string) {
		t.Helper()
		if err := store.Set(key, cmap.Str(v)); err != nil {
			t.Fatal(err)
		}
		m.tick(now)
	}
	// Creating max changes nothing (Corosync only follows modifications).
	set(p+"max", "50")
	if str(p+"state") != "stopped" {
		t.Fatal("a created max started the resource")
	}
	// Modifying it starts the resource and polls at once.
	set(p+"max", "60")
	if str(p+"state") != "running" || typeOf(p+"current") != cmap.TypeUint32 {
		t.Fatalf("after max 60: state %q, current type %v", str(p+"state"), typeOf(p+"current"))
	}
	if v, _ := store.Get(p + "current"); v.Bytes()[0] != 42 {
		t.Fatalf("current %v", v)
	}
	// The next poll comes after poll_period (3 s by default).
	value = 70
	m.tick(now.Add(2 * time.Second))
	if str(p+"state") != "running" {
		t.Fatal("polled before the poll period")
	}
	m.tick(now.Add(3 * time.Second))
	if str(p+"state") != "failed" {
		t.Fatalf("70%% over a max of 60: state %q", str(p+"state"))
	}
	if !strings.Contains(out.String(), `Fsm:memory_used event \"failure\", state \"running\" --> \"failed\"`) {
		t.Errorf("no state change logged:\n%s", out.String())
	}
	// A max that is not a number stops it.
	set(p+"max", "lots")
	if str(p+"state") != "stopped" {
		t.Fatalf("after a bad max: %q", str(p+"state"))
	}
	// Deleting a key is logged and re-reads the settings.
	if err := store.Delete(p + "max"); err != nil {
		t.Fatal(err)
	}
	m.tick(now)
	if !strings.Contains(out.String(), `resource \"memory_used\" deleted from cmap!`) {
		t.Errorf("deletion not logged:\n%s", out.String())
	}
	// poll_period is read as a string, within 500 ms .. 120 s.
	set(p+"poll_period", "100")
	if mem.period != monDefaultPeriod || !strings.Contains(out.String(), "Could NOT use poll_period:100 ms for resource memory_used") {
		t.Errorf("poll_period 100 accepted: %v", mem.period)
	}
	set(p+"poll_period", "1000")
	if mem.period != time.Second {
		t.Errorf("poll_period 1000: %v", mem.period)
	}
}

func TestMonitorReadsTheSystem(t *testing.T) {
	if v, ok := memoryUsedPercent(); !ok || v <= 0 || v > 100 {
		t.Errorf("memory used %v%% (%v)", v, ok)
	}
	if v, ok := load15(); !ok || v < 0 {
		t.Errorf("load %v (%v)", v, ok)
	}
}
