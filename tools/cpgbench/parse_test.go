package main

import (
	"math"
	"testing"
	"time"
)

func TestParseResultRoundTrip(t *testing.T) {
	r := Result{Size: 1024, Msgs: 50000, Elapsed: 4 * time.Second, P50: 2500 * time.Microsecond, P99: 9 * time.Millisecond}
	got, err := ParseResult(r.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != r.Size || got.Msgs != r.Msgs || got.P50 != r.P50 || got.P99 != r.P99 || math.Abs(got.MsgsPerSec()-r.MsgsPerSec()) > 0.1 {
		t.Fatalf("round trip: %v -> %v", r, got)
	}
	for _, bad := range []string{"", "size=1", "size=x msgs=1 msg/s=1 MB/s=1 p50=1ms p99=1ms", "size=1 msgs=1 msg/s=1 MB/s=1 p50=1 p99=1ms", "junk"} {
		if _, err := ParseResult(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseResult(f *testing.F) {
	f.Add("size=100 msgs=1000 msg/s=2000.0 MB/s=0.20 p50=1.000ms p99=2.000ms")
	f.Add("size=1 msgs=0 msg/s=0.0 MB/s=0.00 p50=0.000ms p99=0.000ms")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseResult(line)
		if err == nil && (r.Size < 1 || r.Msgs < 0 || r.P50 < 0 || r.P99 < 0) {
			t.Fatalf("accepted %q as %+v", line, r)
		}
	})
}
