package exec_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
)

// TestCaptureCmapMessages re-encodes every cmap exec message of the
// captures byte for byte, with Corosync's iovec split.
func TestCaptureCmapMessages(t *testing.T) {
	n := 0
	for _, file := range captures(t) {
		msgs, err := exectest.ReadCapture(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range msgs {
			if !c.InGroup(exec.GroupServices) || c.ExecID() != 0 {
				continue
			}
			n++
			m, err := exec.DecodeCmapMcast(c.Payload, false)
			if err != nil {
				t.Fatalf("%s frame %d: %v", filepath.Base(file), c.Frame, err)
			}
			if m.Reason != exec.CmapReasonSync || len(m.Items) != 1 || m.Items[0].Key != exec.ConfigVersionKey {
				t.Errorf("%s frame %d: %+v", filepath.Base(file), c.Frame, m)
			}
			iov, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if len(iov) != 2 || len(iov[0]) != exec.CmapMcastHeader {
				t.Errorf("iovecs %d", len(iov))
			}
			if got := bytes.Join(iov, nil); !bytes.Equal(got, c.Payload) {
				t.Errorf("%s frame %d: re-encoding differs\n got %x\nwant %x", filepath.Base(file), c.Frame, got, c.Payload)
			}
		}
	}
	if n == 0 {
		t.Fatal("no cmap messages in the captures")
	}
}

func TestCmapMessageLayout(t *testing.T) {
	st := cmap.New()
	c := exec.NewCmapSync(1, st)
	_, msgs := c.SyncProcess()
	if b := msgs[0].Bytes(); len(b) != 328 || b[48+264] != 0 {
		t.Errorf("NOT_EXIST message %d bytes, type %d", len(b), b[48+264])
	}
	if err := st.Set(exec.ConfigVersionKey, cmap.U64(0x0102030405060708)); err != nil {
		t.Fatal(err)
	}
	_, msgs = c.SyncProcess()
	b := msgs[0].Bytes()
	if len(b) != 336 || b[48+264] != 8 || b[48+272] != 8 || b[48+280] != 8 || b[48+287] != 1 {
		t.Errorf("u64 message %x", b)
	}
	// The same message from a big-endian sender.
	be := bytes.Clone(b)
	for _, r := range [][2]int{{0, 4}, {8, 4}, {48, 2}, {48 + 272, 8}, {48 + 280, 8}} {
		s := be[r[0] : r[0]+r[1]]
		for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
			s[i], s[j] = s[j], s[i]
		}
	}
	m, err := exec.DecodeCmapMcast(be, true)
	if err != nil {
		t.Fatal(err)
	}
	if it, _ := m.Find(exec.ConfigVersionKey); !bytes.Equal(it.Value, b[48+280:]) {
		t.Errorf("swapped value %x", it.Value)
	}
	for _, bad := range [][]byte{b[:40], b[:300]} {
		if _, err := exec.DecodeCmapMcast(bad, false); err == nil {
			t.Errorf("%d bytes accepted", len(bad))
		}
	}
}

// TestCmapConfigVersion: three nodes with config versions 2, 3 and none
// form a cluster. Every store learns every member's version; node 1
// (non-zero, lower than the highest) reaches the mismatch verdict.
func TestCmapConfigVersion(t *testing.T) {
	b := exectest.NewBus()
	stores := map[uint32]*cmap.Store{}
	parts := map[uint32]*exec.CmapSync{}
	for id, v := range map[uint32]uint64{1: 2, 2: 3, 3: 0} {
		st := cmap.New()
		if v != 0 {
			if err := st.Set(exec.ConfigVersionKey, cmap.U64(v)); err != nil {
				t.Fatal(err)
			}
		}
		e := exec.NewEngine(id)
		p := exec.NewCmapSync(id, st)
		if err := e.Register(p); err != nil {
			t.Fatal(err)
		}
		b.Add(e)
		stores[id], parts[id] = st, p
	}
	b.ConfChg(1, 2, 3)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	for id, st := range stores {
		for member, want := range map[uint32]uint64{1: 2, 2: 3, 3: 0} {
			key := "runtime.members." + string(rune('0'+member)) + ".config_version"
			if got, err := st.GetUint64(key); err != nil || got != want {
				t.Errorf("node %d %s = %d, %v; want %d", id, key, got, err, want)
			}
		}
	}
	if m := parts[1].Mismatch(); m == nil || m.Mine != 2 || m.Highest != 3 {
		t.Errorf("node 1 verdict %v", m)
	}
	if parts[2].Mismatch() != nil || parts[3].Mismatch() != nil {
		t.Errorf("verdicts on 2/3: %v %v", parts[2].Mismatch(), parts[3].Mismatch())
	}
	// The check runs at the first sync only.
	if err := stores[2].Set(exec.ConfigVersionKey, cmap.U64(9)); err != nil {
		t.Fatal(err)
	}
	b.ConfChg(1, 2, 3)
	if !b.Run(50) {
		t.Fatal("bus did not settle")
	}
	if parts[3].Mismatch() != nil {
		t.Error("check repeated after the first sync")
	}
}

func FuzzDecodeCmapMcast(f *testing.F) {
	addCaptureSeeds(f, exec.GroupServices)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, sw := range []bool{false, true} {
			m, err := exec.DecodeCmapMcast(b, sw)
			if err != nil {
				continue
			}
			iov, err := m.Encode()
			if err != nil {
				continue
			}
			m2, err := exec.DecodeCmapMcast(bytes.Join(iov, nil), false)
			if err != nil || len(m2.Items) != len(m.Items) {
				t.Fatalf("re-encoding: %v", err)
			}
		}
	})
}

func TestQuorumSync(t *testing.T) {
	b := exectest.NewBus()
	qs := map[uint32]*exec.QuorumSync{}
	for _, id := range []uint32{1, 2, 3} {
		e := exec.NewEngine(id)
		qs[id] = exec.NewQuorumSync()
		for _, s := range []exec.Service{exec.NewCmapSync(id, cmap.New()), qs[id]} {
			if err := e.Register(s); err != nil {
				t.Fatal(err)
			}
		}
		b.Add(e)
	}
	b.ConfChg(1, 2, 3)
	b.Run(50)
	b.ConfChg(1, 3)
	b.Run(50)
	got := qs[1].Changes()
	if len(got) != 2 {
		t.Fatalf("%d changes", len(got))
	}
	if fmt.Sprint(got[0].Members, got[0].Joined, got[0].Left) != "[1 2 3] [1 2 3] []" {
		t.Errorf("first change %+v", got[0])
	}
	if fmt.Sprint(got[1].Members, got[1].Joined, got[1].Left) != "[1 3] [] [2]" || got[1].Ring != b.Ring() {
		t.Errorf("second change %+v", got[1])
	}
	logs := qs[1].Logs()
	var texts []string
	for _, l := range logs {
		texts = append(texts, l.Text)
	}
	if want := "Sync members[3]: 1 2 3|Sync joined[3]: 1 2 3|Sync members[2]: 1 3|Sync left[1]: 2"; strings.Join(texts, "|") != want {
		t.Errorf("logs %q", texts)
	}
	// The service build now lists what Corosync's does for these.
	if ids := b.Engine(1).SyncServices(); fmt.Sprint(ids) != "[0 3]" {
		t.Errorf("sync services %v", ids)
	}
}
