package exec_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
	"github.com/ringfence/ringfence/totem/wire"
)

func addCaptureSeeds(f *testing.F, group string) {
	files, _ := filepath.Glob(filepath.Join(captureDir, "*.pcap"))
	for _, file := range files {
		msgs, err := exectest.ReadCapture(file)
		if err != nil {
			f.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range msgs {
			if c.InGroup(group) && !seen[string(c.Payload)] {
				seen[string(c.Payload)] = true
				f.Add(c.Payload)
			}
		}
	}
}

// FuzzDecodeSync: DecodeSync never panics, and what it accepts
// re-encodes to a message that decodes to the same value.
func FuzzDecodeSync(f *testing.F) {
	addCaptureSeeds(f, exec.GroupSync)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := exec.DecodeSync(b)
		if err != nil {
			return
		}
		var enc []byte
		switch m := m.(type) {
		case *exec.Barrier:
			enc = m.Encode()
		case *exec.ServiceBuild:
			enc = m.Encode()
		}
		m2, err := exec.DecodeSync(enc)
		if err != nil {
			t.Fatalf("re-encoding rejected: %v", err)
		}
		enc2 := []byte(nil)
		switch m2 := m2.(type) {
		case *exec.Barrier:
			enc2 = m2.Encode()
		case *exec.ServiceBuild:
			enc2 = m2.Encode()
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encode/decode not stable")
		}
	})
}

// FuzzEngineDeliver feeds arbitrary bytes to a syncing engine as sync
// and service messages from members and strangers: it must never panic
// and the counters must account for every message.
func FuzzEngineDeliver(f *testing.F) {
	addCaptureSeeds(f, exec.GroupSync)
	addCaptureSeeds(f, exec.GroupServices)
	f.Fuzz(func(t *testing.T, b []byte) {
		e := exec.NewEngine(1)
		for _, id := range []exec.ServiceID{0, 2, 3, 5} {
			_ = e.Register(&stubSync{id: id})
		}
		ring := wire.RingID{Rep: 1, Seq: 5}
		e.ConfChg(exec.ConfChg{Kind: exec.Regular, Ring: ring, Members: []uint32{1, 2}})
		for _, from := range []uint32{1, 2, 7} {
			_ = e.DeliverSync(from, b, false)
			e.Process()
			_ = e.DeliverServices(from, b, from == 7)
		}
		c := e.Counters()
		if c.Delivered+c.Short+c.UnknownService+c.UnknownFn+c.Malformed != 3 {
			t.Fatalf("service counters %+v do not add up to 3", c)
		}
		_ = e.Ready()
	})
}
