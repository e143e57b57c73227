package votequorum

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func u32(v uint32) *uint32 { return &v }

func nodelist(ids ...uint32) []NodeEntry {
	var l []NodeEntry
	for _, id := range ids {
		l = append(l, NodeEntry{NodeID: id})
	}
	return l
}

func TestMembersLogLinesWrap(t *testing.T) {
	if got := MembersLogLines([]uint32{1, 2, 3}); !slices.Equal(got, []string{"Members[3]: 1 2 3"}) {
		t.Fatalf("got %q", got)
	}
	if got := MembersLogLines(nil); !slices.Equal(got, []string{"Members[0]:"}) {
		t.Fatalf("empty: %q", got)
	}
	// 30 ids of up to 2 digits: " 1".." 9" (9x2) + " 10".." 30" (21x3) =
	// 81 bytes; the 64-byte buffer (with its NUL) holds 63, so the line
	// breaks after " 24" (18 + 15x3 = 63 would not leave room: breaks at 60).
	var ids []uint32
	for i := uint32(1); i <= 30; i++ {
		ids = append(ids, i)
	}
	got := MembersLogLines(ids)
	want := []string{
		"Members[30]: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24\\",
		"Members[30]: 25 26 27 28 29 30",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	for _, l := range got {
		body := l[strings.Index(l, ":")+1:]
		if len(strings.TrimSuffix(body, "\\")) > 63 {
			t.Errorf("line body longer than the C buffer: %q", l)
		}
	}
}

func TestCheckSplitBrain(t *testing.T) {
	ok := []NodeView{
		{NodeID: 1, Quorate: true, Members: []uint32{1, 2}},
		{NodeID: 2, Quorate: true, Members: []uint32{1, 2}},
		{NodeID: 3, Quorate: false, Members: []uint32{3}},
	}
	if err := CheckSplitBrain(ok); err != nil {
		t.Fatal(err)
	}
	bad := append(slices.Clone(ok), NodeView{NodeID: 4, Quorate: true, Members: []uint32{3, 4}})
	if err := CheckSplitBrain(bad); err == nil || !strings.Contains(err.Error(), "node 1") || !strings.Contains(err.Error(), "node 4") {
		t.Fatalf("disjoint quorate partitions not reported: %v", err)
	}
	// A node mid-sync is not judged on its stale flag.
	bad[3].Syncing = true
	if err := CheckSplitBrain(bad); err != nil {
		t.Fatalf("syncing node judged: %v", err)
	}
	// Overlapping views (a membership change seen by one side first) are
	// not a split brain.
	overlap := []NodeView{
		{NodeID: 1, Quorate: true, Members: []uint32{1, 2, 3}},
		{NodeID: 3, Quorate: true, Members: []uint32{2, 3}},
	}
	if err := CheckSplitBrain(overlap); err != nil {
		t.Fatal(err)
	}
}

func TestParseATB(t *testing.T) {
	cases := []struct {
		in   string
		typ  ATBType
		list []uint32
	}{
		{"lowest", ATBLowest, nil},
		{"highest", ATBHighest, nil},
		{"3 1 2", ATBList, []uint32{3, 1, 2}},
		{" 5  7", ATBList, []uint32{5, 7}},
		{"4 0 6", ATBList, []uint32{4}}, // a 0 ends the list, like strtol
		{"2 x 3", ATBList, []uint32{2}}, // so does a non-number
		{"0 1", ATBNone, nil},           // atoi("0 1") is 0: not a list
		{"middle", ATBNone, nil},
		{"", ATBNone, nil},
		{"Lowest", ATBNone, nil},
	}
	for _, c := range cases {
		typ, list := parseATB(c.in)
		if typ != c.typ || !slices.Equal(list, c.list) {
			t.Errorf("parseATB(%q) = %v %v, want %v %v", c.in, typ, list, c.typ, c.list)
		}
	}
}

// The startup NODEINFO of a 2-node nodelist config is exactly the
// captured frame.
func TestFirstNodeInfoMatchesCapture(t *testing.T) {
	m, err := New(Config{NodeID: 1, Nodelist: nodelist(1, 2)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Ready()
	if len(r.Messages) != 1 {
		t.Fatalf("messages %v", r.Messages)
	}
	msgs := votequorumFromPcap(t, "testdata/udpu-2node-join.pcap")
	if !bytes.Equal(r.Messages[0].Encode(), msgs[0].bytes) {
		t.Fatalf("startup NODEINFO %x, captured %x", r.Messages[0].Encode(), msgs[0].bytes)
	}
	// The single-node sync (frame 9) sends the same NODEINFO(me), then
	// NODEINFO(0) with zero votes.
	m.Deliver(1, r.Messages[0])
	m.SyncInit(nil, []uint32{1}, RingID{Rep: 1, Seq: 5})
	if m.SyncProcess() {
		t.Fatal("sync waits without a quorum device")
	}
	r = m.Ready()
	var got [][]byte
	for _, msg := range r.Messages {
		got = append(got, msg.Encode())
	}
	var want [][]byte
	for _, c := range msgs {
		if c.frame == 9 {
			want = append(want, c.bytes)
		}
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("single-node sync messages\n%x\nwant\n%x", got, want)
	}
}

func TestGetInfoUnknownNode(t *testing.T) {
	m, _ := New(Config{NodeID: 1, Nodelist: nodelist(1, 2)}, t0)
	if _, st := m.GetInfo(7); st != ErrNotExist {
		t.Fatalf("unknown node: %v", st)
	}
	info, st := m.GetInfo(0)
	if st != OK || info.NodeID != 1 || info.State != StateMember || info.ExpectedVotes != 2 || info.Quorum != 2 {
		t.Fatalf("local info %+v %v", info, st)
	}
	if info.QuorumLine() != "Quorum:           2 Activity blocked" {
		t.Fatalf("%q", info.QuorumLine())
	}
}

func TestQdeviceNodeInfoFromUnknownSenderIsDropped(t *testing.T) {
	m, _ := New(Config{NodeID: 1, Nodelist: nodelist(1, 2)}, t0)
	m.Ready()
	err := m.DeliverBytes(9, NodeInfo{NodeID: 0, Votes: 5}.Encode(), false)
	if !errors.Is(err, ErrUnknownSender) {
		t.Fatalf("got %v", err)
	}
	if err := m.DeliverBytes(2, []byte{1, 2, 3}, false); !errors.Is(err, ErrShort) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestNextDeadlineAndTick(t *testing.T) {
	cfg := Config{NodeID: 1, Nodelist: nodelist(1, 2, 3), LastManStanding: true, LastManStandingWindowMS: u32(2000)}
	m, _ := New(cfg, t0)
	if _, ok := m.NextDeadline(); ok {
		t.Fatal("deadline without a timer")
	}
	// Pretend the cluster was 1 2 3 and quorate, then 3 leaves.
	m.SyncInit(nil, []uint32{1, 2, 3}, RingID{1, 4})
	for _, id := range []uint32{1, 2, 3} {
		m.Deliver(id, NodeInfo{NodeID: id, Votes: 1, ExpectedVotes: 3})
	}
	m.SyncActivate()
	if !m.Quorate() {
		t.Fatal("not quorate with 3 of 3")
	}
	m.Tick(t0.Add(time.Second))
	m.SyncInit([]uint32{1, 2}, []uint32{1, 2}, RingID{1, 8})
	d, ok := m.NextDeadline()
	if !ok || !d.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	m.SyncProcess()
	m.SyncActivate()
	m.Tick(t0.Add(2999 * time.Millisecond))
	if info, _ := m.GetInfo(0); info.ExpectedVotes != 3 {
		t.Fatalf("LMS fired early: %+v", info)
	}
	m.Tick(t0.Add(3 * time.Second))
	if info, _ := m.GetInfo(0); info.ExpectedVotes != 2 || info.Quorum != 2 {
		t.Fatalf("LMS did not recalculate: %+v", info)
	}
	if _, ok := m.NextDeadline(); ok {
		t.Fatal("timer still armed")
	}
}

func TestReloadConfigTwoNode(t *testing.T) {
	cfg := Config{NodeID: 1, Nodelist: nodelist(1, 2)}
	m, _ := New(cfg, t0)
	m.Ready()
	cfg.TwoNode = true
	m.ReloadConfig(cfg)
	r := m.Ready()
	var names []string
	for _, msg := range r.Messages {
		names = append(names, msg.String())
	}
	want := []string{"NODEINFO nodeid=1 votes=1 expected=2 flags=first", "NODEINFO nodeid=0 votes=0 expected=0 flags=0"}
	if !slices.Equal(names, want) {
		t.Fatalf("reload sent %q want %q", names, want)
	}
	info, _ := m.GetInfo(0)
	// two_node also turns on the wait_for_all that follows it, but
	// wait_for_all_status is only raised at startup.
	if info.Flags&InfoTwoNode == 0 || info.Flags&InfoWaitForAll == 0 || m.WaitForAllStatus() {
		t.Fatalf("after reload: %+v wfa_status=%v", info, m.WaitForAllStatus())
	}
	// Changing votes at runtime is announced with RECONFIGURE.
	cfg.Nodelist[0].QuorumVotes = u32(2)
	m.ReloadConfig(cfg)
	r = m.Ready()
	if len(r.Messages) != 4 || r.Messages[2] != (Reconfigure{NodeID: 1, Value: 2, Param: ParamNodeVotes}) ||
		r.Messages[3] != (Reconfigure{NodeID: 1, Value: 3, Param: ParamExpectedVotes}) {
		t.Fatalf("reload with new votes sent %v", r.Messages)
	}
	// An invalid runtime config is logged, not fatal.
	bad := Config{NodeID: 1}
	m.ReloadConfig(bad)
	logs := fmt.Sprint(m.Ready().Logs)
	if !strings.Contains(logs, "will continue with current runtime data") {
		t.Fatalf("logs %s", logs)
	}
}

func TestNodeIDZeroRefused(t *testing.T) {
	if _, err := New(Config{NodeID: 0, ExpectedVotes: 2}, t0); !errors.Is(err, ErrNodeIDZero) {
		t.Fatalf("got %v", err)
	}
}

func TestEVStoreFailures(t *testing.T) {
	cfg := Config{NodeID: 1, Nodelist: nodelist(1, 2), ExpectedVotesTracking: true}
	if _, err := New(cfg, t0); !errors.Is(err, ErrNoEVStore) {
		t.Fatalf("no store: %v", err)
	}
	cfg.EVStore = &MemoryEVStore{Failed: errors.New("disk on fire")}
	if _, err := New(cfg, t0); !errors.Is(err, ErrEVTrackingLoad) {
		t.Fatalf("failing store: %v", err)
	}
}

func TestLogLineEmit(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	LogLine{Level: logrus.InfoLevel, Subsys: SubsysQuorum, Text: "Members[1]: 1"}.Emit(log)
	if got := buf.String(); !strings.Contains(got, `msg="Members[1]: 1"`) || !strings.Contains(got, "subsys=QUORUM") {
		t.Fatalf("emitted %q", got)
	}
}

// The node table keeps corosync's insertion order: a node with a higher id
// than all others goes before the last entry, not after it.
func TestNodeTableOrder(t *testing.T) {
	m, _ := New(Config{NodeID: 1, Nodelist: nodelist(1, 2, 3, 4)}, t0)
	for _, id := range []uint32{4, 2, 3} {
		m.Deliver(id, NodeInfo{NodeID: id, Votes: 1, ExpectedVotes: 4})
	}
	var got []uint32
	for _, n := range m.QuorumNotification().Nodes {
		got = append(got, n.NodeID)
	}
	// [1] +4 -> [4 1]; +2 -> [2 4 1]; +3 -> [2 3 4 1]
	if want := []uint32{2, 3, 4, 1}; !slices.Equal(got, want) {
		t.Fatalf("order %v want %v", got, want)
	}
}

func BenchmarkDeliverNodeInfo(b *testing.B) {
	m, _ := New(Config{NodeID: 1, Nodelist: nodelist(1, 2, 3)}, t0)
	msg := NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3, Flags: NodeFlagQuorate}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DeliverBytes(2, msg, false); err != nil {
			b.Fatal(err)
		}
		m.Ready()
	}
}
