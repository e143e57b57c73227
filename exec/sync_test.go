package exec_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
	"github.com/ringfence/ringfence/totem/wire"
)

var captureDir = filepath.Join("..", "testdata", "wire")

func captures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(captureDir, "*.pcap"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", captureDir, err)
	}
	return files
}

// TestCaptureSyncMessagesRoundTrip decodes every group "sync" message of
// every capture and demands the byte-exact re-encoding.
func TestCaptureSyncMessagesRoundTrip(t *testing.T) {
	var builds, barriers int
	for _, file := range captures(t) {
		msgs, err := exectest.ReadCapture(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range msgs {
			if !c.InGroup(exec.GroupSync) {
				continue
			}
			m, err := exec.DecodeSync(c.Payload)
			if err != nil {
				t.Errorf("%s frame %d: %v", filepath.Base(file), c.Frame, err)
				continue
			}
			var enc []byte
			switch m := m.(type) {
			case *exec.ServiceBuild:
				builds++
				enc = m.Encode()
				if !slices.Equal(m.Services, []int32{0, 2, 3, 5}) {
					t.Errorf("%s frame %d: services %v", filepath.Base(file), c.Frame, m.Services)
				}
			case *exec.Barrier:
				barriers++
				enc = m.Encode()
			}
			if !bytes.Equal(enc, c.Payload) {
				t.Errorf("%s frame %d: re-encoding differs\n got %x\nwant %x", filepath.Base(file), c.Frame, enc, c.Payload)
			}
		}
	}
	if builds == 0 || barriers != 4*builds {
		t.Errorf("%d service builds and %d barriers; want some builds and four barriers each", builds, barriers)
	}
}

// stubSync is one of Corosync's sync services as the captures show it
// from the outside: done at once, no traffic of its own.
type stubSync struct {
	id             exec.ServiceID
	inits, actives int
}

func (s *stubSync) ID() exec.ServiceID                         { return s.id }
func (s *stubSync) Name() string                               { return s.id.ShortName() }
func (s *stubSync) ExecCount() int                             { return 8 }
func (s *stubSync) Deliver(uint32, uint16, []byte, bool) error { return nil }
func (s *stubSync) SyncInit([]uint32, []uint32, wire.RingID)   { s.inits++ }
func (s *stubSync) SyncProcess() (bool, []exec.Message)        { return true, nil }
func (s *stubSync) SyncActivate()                              { s.actives++ }
func (s *stubSync) SyncAbort()                                 {}

// TestCaptureReplayNodeSync replays, for each ring in the captures, the
// sync messages of all nodes into an engine standing in for each node,
// and demands that it sends exactly the sync messages that node sent.
func TestCaptureReplayNodeSync(t *testing.T) {
	checked := 0
	for _, file := range captures(t) {
		msgs, err := exectest.ReadCapture(file)
		if err != nil {
			t.Fatal(err)
		}
		type ringKey = wire.RingID
		var rings []ringKey
		byRing := map[ringKey][]exectest.Captured{}
		for _, c := range msgs {
			if !c.InGroup(exec.GroupSync) {
				continue
			}
			m, err := exec.DecodeSync(c.Payload)
			if err != nil {
				t.Fatal(err)
			}
			var r wire.RingID
			switch m := m.(type) {
			case *exec.ServiceBuild:
				r = m.Ring
			case *exec.Barrier:
				r = m.Ring
			}
			if _, ok := byRing[r]; !ok {
				rings = append(rings, r)
			}
			byRing[r] = append(byRing[r], c)
		}
		for _, r := range rings {
			seq := byRing[r]
			var members []uint32
			for _, c := range seq {
				if c.ExecID() == exec.SyncServiceBuildID && !slices.Contains(members, c.Node) {
					members = append(members, c.Node)
				}
			}
			slices.Sort(members)
			for _, me := range members {
				e := exec.NewEngine(me)
				for _, id := range []exec.ServiceID{0, 2, 3, 5} {
					if err := e.Register(&stubSync{id: id}); err != nil {
						t.Fatal(err)
					}
				}
				e.ConfChg(exec.ConfChg{Kind: exec.Regular, Ring: r, Members: members})
				var sent [][]byte
				take := func() {
					for _, m := range e.Ready().Messages {
						sent = append(sent, m.Bytes())
					}
				}
				take()
				complete := false
				for _, c := range seq {
					if err := e.DeliverSync(c.Node, c.Payload, false); err != nil {
						t.Fatalf("%s ring %s node %d frame %d: %v", filepath.Base(file), r, me, c.Frame, err)
					}
					e.Process()
					rd := e.Ready()
					for _, m := range rd.Messages {
						sent = append(sent, m.Bytes())
					}
					complete = complete || rd.SyncCompleted
				}
				checked++
				var want [][]byte
				for _, c := range seq {
					if c.Node == me {
						want = append(want, c.Payload)
					}
				}
				if !slices.EqualFunc(sent, want, bytes.Equal) {
					t.Errorf("%s ring %s node %d: sent %d sync messages, captured %d (or bytes differ)", filepath.Base(file), r, me, len(sent), len(want))
				}
				// A capture may end before the last barrier; only a
				// ring whose four barriers all arrived must complete.
				if n := len(seq); n == 5*len(members) && !complete {
					t.Errorf("%s ring %s node %d: sync not completed", filepath.Base(file), r, me)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d node-rings replayed", checked)
	}
	t.Logf("%d node-rings replayed", checked)
}

func TestServiceBuildDecodeRejects(t *testing.T) {
	b := (&exec.ServiceBuild{Ring: wire.RingID{Rep: 1, Seq: 9}, Services: []int32{0, 2}}).Encode()
	b[32] = 129
	if _, err := exec.DecodeSync(b); err == nil {
		t.Error("129 entries accepted")
	}
	if _, err := exec.DecodeSync(b[:100]); err == nil {
		t.Error("short service build accepted")
	}
	bar := (&exec.Barrier{Ring: wire.RingID{Rep: 1, Seq: 9}}).Encode()
	if _, err := exec.DecodeSync(bar[:31]); err == nil {
		t.Error("short barrier accepted")
	}
	bar[0] = 7
	if _, err := exec.DecodeSync(bar); err == nil {
		t.Error("id 7 accepted")
	}
	// A big-endian peer's barrier (id 0 either way) is read as a
	// barrier with a byte-swapped ring, which never matches: harmless.
	if _, err := exec.DecodeSync(make([]byte, 32)); err != nil {
		t.Errorf("zero barrier: %v", err)
	}
}

func TestCompletedLogLine(t *testing.T) {
	e := exec.NewEngine(1)
	if err := e.Register(&stubSync{id: 0}); err != nil {
		t.Fatal(err)
	}
	b := exectest.NewBus()
	b.Add(e)
	var logs []string
	b.OnReady = func(_ uint32, r exec.Ready) {
		for _, l := range r.Logs {
			logs = append(logs, l.Subsys+": "+l.Text)
		}
	}
	b.ConfChg(1)
	if !b.Run(20) {
		t.Fatal("bus did not settle")
	}
	if b.Completed[1] != 1 || e.InSync() {
		t.Fatalf("completed %d times, in sync %v", b.Completed[1], e.InSync())
	}
	if !slices.Contains(logs, "MAIN: Completed service synchronization, ready to provide service.") {
		t.Errorf("log lines %q", strings.Join(logs, "\n"))
	}
}
