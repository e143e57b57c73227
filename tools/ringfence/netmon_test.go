package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestNetmonTable(t *testing.T) {
	kv := map[string]string{
		"runtime.heartbeat.mode":                     "kernel (XDP generic mode on eth0)",
		"runtime.heartbeat.3.link0.rtt_us":           "250",
		"runtime.heartbeat.3.link0.loss_permille":    "50",
		"runtime.heartbeat.3.link0.last_seen_ms":     "12",
		"runtime.heartbeat.3.link0.ringfenced":       "1",
		"runtime.heartbeat.3.link0.reachable":        "0",
		"runtime.heartbeat.3.link0.addr":             "198.18.0.3",
		"runtime.heartbeat.2.link0.rtt_us":           "120",
		"runtime.heartbeat.2.link0.loss_permille":    "0",
		"runtime.heartbeat.2.link0.last_seen_ms":     "-1",
		"runtime.heartbeat.2.link0.ringfenced":       "0",
		"runtime.heartbeat.2.link0.reachable":        "1",
		"runtime.heartbeat.2.link0.addr":             "198.18.0.2",
		"runtime.heartbeat.bogus":                    "x",
		"runtime.heartbeat.0.link0.rtt_us":           "1",
		"runtime.heartbeat.4.linkX.rtt_us":           "1",
		"runtime.heartbeat.5.link0.rtt_us.extra.key": "7",
	}
	rows, other := netmonRows(kv)
	if len(rows) != 3 || rows[0].Node != 2 || rows[1].Node != 3 || rows[2].Node != 5 {
		t.Fatalf("rows %+v", rows)
	}
	if other["mode"] == "" || other["bogus"] != "x" {
		t.Fatalf("other %v", other)
	}
	var b bytes.Buffer
	renderNetmon(&b, rows[:2], other)
	out := b.String()
	for _, want := range []string{"answered by kernel", "198.18.0.3", "250µs", "5.0%", "12ms", "UNREACHABLE", "not ringfenced", "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func FuzzNetmonKey(f *testing.F) {
	f.Add("runtime.heartbeat.3.link0.rtt_us")
	f.Add("runtime.heartbeat.mode")
	f.Add("runtime.heartbeat.4294967296.link1.x")
	f.Fuzz(func(t *testing.T, key string) {
		n, l, field, err := parseNetmonKey(key)
		if err != nil {
			return
		}
		if n == 0 || l > 255 || field == "" {
			t.Fatalf("%q parsed to %d %d %q", key, n, l, field)
		}
	})
}
