package cpgclient_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cpg/cpgclient"
)

// TestFloodIsFlowControlledNotDropped: a client that multicasts as fast as
// the IPC lets it, far faster than the ring drains, must be slowed down
// (the daemon stops reading requests while its totem send queue lacks
// room, so the client's request ring fills and its sends wait or answer
// TRY_AGAIN) rather than have messages dropped. Every message comes back,
// in order.
func TestFloodIsFlowControlledNotDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a real ring on loopback")
	}
	prefixes := startRing(t, 2)
	sender := dial(t, cpgclient.Options{ServicePrefix: prefixes[0], PID: 4001}, direct)
	if err := sender.conn.Join(group); err != nil {
		t.Fatal(err)
	}
	// 12,000 messages of 1 KiB are ~4,000 full packets: more than the
	// 2,974 srp queues before it refuses more.
	const total = 12000
	body := make([]byte, 1000)
	tryAgain := 0
	for i := range total {
		msg := []byte(fmt.Sprintf("%06d", i))
		for {
			err := sender.conn.Mcast(msg, body)
			if err == nil {
				break
			}
			if !errors.Is(err, cpgclient.ErrTryAgain) {
				t.Fatalf("mcast %d: %v", i, err)
			}
			tryAgain++
			time.Sleep(200 * time.Microsecond)
		}
	}
	var got int
	waitFor(t, "every flooded message", 60*time.Second, func() bool {
		_, _, big := sender.snapshot()
		got = len(big)
		return got >= total
	})
	_, _, big := sender.snapshot()
	for i, m := range big {
		if want := fmt.Sprintf("%06d", i); string(m[:6]) != want {
			t.Fatalf("delivery %d is message %s, want %s (lost or reordered)", i, m[:6], want)
		}
	}
	if len(big) != total {
		t.Fatalf("%d deliveries, want %d", len(big), total)
	}
	t.Logf("%d messages, %d TRY_AGAIN answers", total, tryAgain)
}
