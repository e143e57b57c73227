package heartbeat

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// loadTCForTest loads the TC responder for node 2 or skips when BPF is
// missing.
func loadTCForTest(t *testing.T) (*maps, *ebpf.Program) {
	t.Helper()
	m, _ := loadForTest(t)
	prog, err := loadHook(Config{NodeID: 2, Port: testPort}, m, hookTC)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier: %+v", ve)
		}
		if errors.Is(err, os.ErrPermission) || errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("TC programs not available here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return m, prog
}

// The TC responder does what the XDP one does, with TC's verdicts: the
// answer goes back out by bpf_redirect (TC_ACT_REDIRECT), a stale stamp
// drops (TC_ACT_SHOT), anything else passes (TC_ACT_OK).
func TestTCAnswersLikeXDP(t *testing.T) {
	m, prog := loadTCForTest(t)
	setStamp(t, m, Monotonic(), uint64(time.Hour))
	probe := Packet{Type: TypeProbe, Link: 0, From: 1, To: 2, Seq: 9, Stamp: 987654321}
	in := frame(ip1, ip2, testPort, testPort, probe.Append(nil))
	ret, out := run(t, prog, in)
	if ret != tcRedirect {
		t.Fatalf("verdict %d, want TC_ACT_REDIRECT", ret)
	}
	checkAnswer(t, in, out, probe)
	if r := lookup(t, m, Key{Node: 1, Link: 0}); r.Probes != 1 || r.Replied != 1 {
		t.Fatalf("record %+v", r)
	}

	sent := Monotonic() - uint64(2*time.Millisecond)
	ans := frame(ip1, ip2, testPort, testPort, Packet{Type: TypeAnswer, Link: 0, From: 1, To: 2, Stamp: sent}.Append(nil))
	if ret, _ := run(t, prog, ans); ret != tcShot {
		t.Fatalf("answer: verdict %d, want TC_ACT_SHOT", ret)
	}
	if r := lookup(t, m, Key{Node: 1, Link: 0}); r.Answers != 1 || r.RTT < uint64(2*time.Millisecond) {
		t.Fatalf("record after an answer %+v", r)
	}

	setStamp(t, m, Monotonic()-uint64(2*time.Second), uint64(time.Second))
	if ret, _ := run(t, prog, in); ret != tcShot {
		t.Fatalf("stale stamp: verdict %d, want TC_ACT_SHOT", ret)
	}
	for name, b := range map[string][]byte{
		"other port": frame(ip1, ip2, testPort, 5405, probe.Append(nil)),
		"other node": frame(ip1, ip2, testPort, testPort, Packet{Type: TypeProbe, From: 1, To: 3}.Append(nil)),
		"short":      frame(ip1, ip2, testPort, testPort, probe.Append(nil)[:20]),
	} {
		if ret, _ := run(t, prog, b); ret != tcOK {
			t.Errorf("%s: verdict %d, want TC_ACT_OK", name, ret)
		}
	}
}
