package heartbeat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

const testPort = 5407

// frame builds Ethernet + IPv4 + UDP around payload.
func frame(srcIP, dstIP [4]byte, sport, dport uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip = append(ip, srcIP[:]...)
	ip = append(ip, dstIP[:]...)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	b = append(b, ip...)
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	binary.BigEndian.PutUint16(udp[6:], 0xbeef)
	b = append(b, udp...)
	return append(b, payload...)
}

// loadForTest loads the program for node 2 or skips when BPF is missing.
func loadForTest(t *testing.T) (*maps, *ebpf.Program) {
	t.Helper()
	m, prog, err := loadProgram(Config{NodeID: 2, Port: testPort, Links: []LinkConfig{{}}})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier: %+v", ve)
		}
		if errors.Is(err, os.ErrPermission) || errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("BPF not available here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close(); m.Close() })
	return m, prog
}

func run(t *testing.T, prog *ebpf.Program, in []byte) (uint32, []byte) {
	t.Helper()
	out := make([]byte, len(in)+256)
	ret, err := prog.Run(&ebpf.RunOptions{Data: in, DataOut: out})
	if err != nil {
		t.Fatal(err)
	}
	return ret, out[:len(in)]
}

func setStamp(t *testing.T, m *maps, stamp, grace uint64) {
	t.Helper()
	x := &xdpPath{maps: m}
	if err := x.Stamp(stamp, grace); err != nil {
		t.Fatal(err)
	}
}

func lookup(t *testing.T, m *maps, k Key) Record {
	t.Helper()
	r, err := (&xdpPath{maps: m}).Lookup(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	ip1 = [4]byte{198, 18, 0, 1}
	ip2 = [4]byte{198, 18, 0, 2}
)

// checkAnswer: out is node 2's kernel answer to probe, which came in as
// the frame in: addresses, ports and MACs swapped, UDP checksum cleared.
func checkAnswer(t *testing.T, in, out []byte, probe Packet) {
	t.Helper()
	want := frame(ip2, ip1, testPort, testPort, probe.Answer(2, FlagKernel).Append(nil))
	copy(want[0:6], in[6:12]) // MACs swapped
	copy(want[6:12], in[0:6])
	binary.BigEndian.PutUint16(want[40:], 0) // UDP checksum cleared
	if !bytes.Equal(out, want) {
		t.Fatalf("answer frame\n got %x\nwant %x", out, want)
	}
	if _, err := Parse(out[offPayload:]); err != nil {
		t.Fatal(err)
	}
}

func TestXDPAnswersProbeWhileStampFresh(t *testing.T) {
	m, prog := loadForTest(t)
	setStamp(t, m, Monotonic(), uint64(time.Hour))
	probe := Packet{Type: TypeProbe, Link: 0, From: 1, To: 2, Seq: 7, Stamp: 123456789}
	in := frame(ip1, ip2, testPort, testPort, probe.Append(nil))
	ret, out := run(t, prog, in)
	if ret != xdpTx {
		t.Fatalf("verdict %d, want XDP_TX", ret)
	}
	checkAnswer(t, in, out, probe)
	r := lookup(t, m, Key{Node: 1, Link: 0})
	if r.Probes != 1 || r.Replied != 1 || r.LastProbe == 0 {
		t.Fatalf("record %+v", r)
	}
}

// A hung daemon: the stamp is older than the grace, the probe is counted
// and dropped, not answered.
func TestXDPDropsProbeWhenStampStale(t *testing.T) {
	m, prog := loadForTest(t)
	setStamp(t, m, Monotonic()-uint64(2*time.Second), uint64(time.Second))
	in := frame(ip1, ip2, testPort, testPort, Packet{Type: TypeProbe, Link: 1, From: 1, To: 2}.Append(nil))
	if ret, _ := run(t, prog, in); ret != xdpDrop {
		t.Fatalf("verdict %d, want XDP_DROP", ret)
	}
	if r := lookup(t, m, Key{Node: 1, Link: 1}); r.Probes != 1 || r.Replied != 0 {
		t.Fatalf("record %+v", r)
	}
	// Never stamped (daemon not started yet): no answers either.
	setStamp(t, m, 0, uint64(time.Hour))
	if ret, _ := run(t, prog, in); ret != xdpDrop {
		t.Fatalf("unstamped: verdict %d, want XDP_DROP", ret)
	}
}

func TestXDPRecordsAnswer(t *testing.T) {
	m, prog := loadForTest(t)
	sent := Monotonic() - uint64(3*time.Millisecond)
	in := frame(ip1, ip2, testPort, testPort, Packet{Type: TypeAnswer, Link: 0, From: 1, To: 2, Stamp: sent}.Append(nil))
	if ret, _ := run(t, prog, in); ret != xdpDrop {
		t.Fatalf("verdict %d, want XDP_DROP", ret)
	}
	r := lookup(t, m, Key{Node: 1, Link: 0})
	if r.Answers != 1 || r.LastAnswer == 0 || r.RTT < uint64(3*time.Millisecond) || r.RTT > uint64(time.Minute) {
		t.Fatalf("record %+v", r)
	}
}

func TestXDPPassesOtherTraffic(t *testing.T) {
	_, prog := loadForTest(t)
	good := Packet{Type: TypeProbe, From: 1, To: 2}.Append(nil)
	cases := map[string][]byte{
		"other port":    frame(ip1, ip2, testPort, 5405, good),
		"other node":    frame(ip1, ip2, testPort, testPort, Packet{Type: TypeProbe, From: 1, To: 3}.Append(nil)),
		"bad magic":     frame(ip1, ip2, testPort, testPort, append([]byte("XFHB"), good[4:]...)),
		"bad version":   frame(ip1, ip2, testPort, testPort, append(append([]byte{}, good[:4]...), append([]byte{9}, good[5:]...)...)),
		"unknown type":  frame(ip1, ip2, testPort, testPort, append(append([]byte{}, good[:5]...), append([]byte{7}, good[6:]...)...)),
		"short":         frame(ip1, ip2, testPort, testPort, good[:20]),
		"runt ethernet": {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00},
	}
	ipOpts := frame(ip1, ip2, testPort, testPort, good)
	ipOpts[offIPVerIHL] = 0x46
	cases["ip options"] = ipOpts
	arp := frame(ip1, ip2, testPort, testPort, good)
	arp[12], arp[13] = 0x08, 0x06
	cases["arp"] = arp
	for name, in := range cases {
		if ret, _ := run(t, prog, in); ret != xdpPass {
			t.Errorf("%s: verdict %d, want XDP_PASS", name, ret)
		}
	}
}

func TestXDPDumpReadsEveryRecord(t *testing.T) {
	m, prog := loadForTest(t)
	setStamp(t, m, Monotonic(), uint64(time.Hour))
	for from := uint32(1); from <= 40; from++ {
		if from == 2 {
			continue
		}
		in := frame(ip1, ip2, testPort, testPort, Packet{Type: TypeProbe, Link: uint8(from % 2), From: from, To: 2}.Append(nil))
		if ret, _ := run(t, prog, in); ret != xdpTx {
			t.Fatalf("verdict %d", ret)
		}
	}
	for _, batch := range []bool{true, false} {
		x := &xdpPath{maps: m, noBatch: !batch}
		got := map[Key]Record{}
		if err := x.Dump(got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 39 {
			t.Fatalf("batch=%v: %d records, want 39", batch, len(got))
		}
		if r := got[Key{Node: 7, Link: 1}]; r.Probes != 1 || r.Replied != 1 {
			t.Fatalf("batch=%v: record of node 7 %+v", batch, r)
		}
	}
}

// Monotonic must read the clock the program reads: the RTT and the
// liveness gate compare the two.
func TestMonotonicMatchesKernelClock(t *testing.T) {
	var ts [2]uint64
	for i := 0; i < 3; i++ {
		ts[0] = Monotonic()
		time.Sleep(20 * time.Millisecond)
		ts[1] = Monotonic()
	}
	if d := time.Duration(ts[1] - ts[0]); d < 20*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Monotonic advanced %v over a 20ms sleep", d)
	}
	// The answer path computes now - stamp in the kernel; a stamp from
	// Monotonic taken just before must give a small positive RTT.
	m, prog2 := loadForTest(t)
	sent := Monotonic()
	in := frame(ip1, ip2, testPort, testPort, Packet{Type: TypeAnswer, From: 1, To: 2, Stamp: sent}.Append(nil))
	if ret, _ := run(t, prog2, in); ret != xdpDrop {
		t.Fatalf("verdict %d", ret)
	}
	r := lookup(t, m, Key{Node: 1})
	if r.RTT == 0 || r.RTT > uint64(time.Second) {
		t.Fatalf("RTT %v from a Monotonic stamp: the clocks differ", time.Duration(r.RTT))
	}
}
