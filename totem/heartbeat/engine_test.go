package heartbeat

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// cluster is n userspace engines on a MemNet with one virtual clock.
type cluster struct {
	t     *testing.T
	net   *MemNet
	clock atomic.Uint64
	eng   map[uint32]*Engine
	addrs map[uint32]netip.Addr
}

func addrOf(id uint32) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, byte(id)}) }

func newCluster(t *testing.T, ids []uint32, grace time.Duration) *cluster {
	return newMixedCluster(t, ids, ids, grace)
}

// newMixedCluster is a nodelist of all whose members in run start an
// engine; the others are Corosync nodes, which never answer.
func newMixedCluster(t *testing.T, all, run []uint32, grace time.Duration) *cluster {
	c := &cluster{t: t, net: NewMemNet(), eng: map[uint32]*Engine{}, addrs: map[uint32]netip.Addr{}}
	c.clock.Store(uint64(time.Hour))
	var peers []Peer
	for _, id := range all {
		peers = append(peers, Peer{NodeID: id, Addr: addrOf(id)})
	}
	for _, id := range run {
		e, err := Open(Config{NodeID: id, Port: 5407, NoBPF: true, Grace: grace,
			Links:  []LinkConfig{{Number: 0, Local: addrOf(id), Peers: peers}},
			Listen: c.net.Listen, Now: c.clock.Load})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		c.eng[id] = e
	}
	// Every daemon is up before the first probe goes out.
	for _, e := range c.eng {
		e.Stamp()
	}
	return c
}

// step advances the clock one interval, ticks the given engines and
// returns what each reported; the memory network delivers at once but the
// readers are goroutines, so give them a moment to answer.
func (c *cluster) step(ids ...uint32) map[uint32][]uint32 {
	c.clock.Add(uint64(DefaultInterval))
	out := map[uint32][]uint32{}
	for _, id := range ids {
		c.eng[id].Stamp()
		if got := c.eng[id].Tick(); len(got) > 0 {
			out[id] = got
		}
	}
	c.settle()
	return out
}

// settle waits until the readers handled every datagram delivered.
func (c *cluster) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var handled uint64
		for _, e := range c.eng {
			handled += e.handled.Load()
		}
		if handled >= c.net.Delivered.Load() {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	c.t.Fatal("readers did not catch up")
}

func TestEngineReportsCutPeerAfterMisses(t *testing.T) {
	ids := []uint32{1, 2, 3}
	c := newCluster(t, ids, time.Second)
	for i := 0; i < 5; i++ {
		if got := c.step(ids...); len(got) > 0 {
			t.Fatalf("healthy step %d reported %v", i, got)
		}
	}
	for _, l := range c.eng[1].Links() {
		if !l.Fenced || !l.Reachable || l.Answers+l.Probes == 0 || l.Loss != 0 {
			t.Fatalf("healthy link %+v", l)
		}
	}
	c.net.Cut(addrOf(3))
	// Node 3 may report its two peers on different steps: within a step
	// the engines tick one after the other while their readers run on
	// their own, so a probe sent just before the cut may be counted one
	// step later. Collect every report of the window.
	var when int
	got := map[uint32][]uint32{}
	for i := 1; i <= DefaultMisses+2; i++ {
		for id, r := range c.step(ids...) {
			got[id] = append(got[id], r...)
			slices.Sort(got[id])
			if id == 1 {
				when = i
			}
		}
	}
	want := map[uint32][]uint32{1: {3}, 2: {3}, 3: {1, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reports %v, want %v", got, want)
	}
	// The first step after the cut still counts the probe node 3 sent
	// before it; then Misses evaluations without a new one.
	if when != DefaultMisses+1 {
		t.Fatalf("reported after %d intervals, want %d", when, DefaultMisses+1)
	}
	if !c.eng[1].Unreachable(3) || c.eng[1].Unreachable(2) {
		t.Fatal("Unreachable disagrees with the report")
	}
	// Reported once, not on every tick.
	if r := c.step(ids...); len(r) > 0 {
		t.Fatalf("reported again: %v", r)
	}
	st := c.eng[1].Links()
	if st[1].Node != 3 || st[1].Reachable || st[1].Sent == 0 || st[1].Loss == 0 {
		t.Fatalf("cut link %+v", st[1])
	}
	// Heal: answers come back, and a later cut is reported again.
	c.net.Heal(addrOf(3))
	c.step(ids...)
	c.step(ids...)
	if !c.eng[1].Links()[1].Reachable || c.eng[1].Unreachable(3) {
		t.Fatal("healed link not reachable")
	}
	c.net.Cut(addrOf(3))
	var again []uint32
	for i := 0; i < DefaultMisses+2 && again == nil; i++ {
		again = c.step(ids...)[1]
	}
	if !slices.Equal(again, []uint32{3}) {
		t.Fatalf("second cut reported %v", again)
	}
}

// A node that never answers (not ringfenced: corosync in a mixed ring, or
// heartbeat disabled there) is never reported.
func TestEngineIgnoresPeersThatNeverAnswered(t *testing.T) {
	c := newCluster(t, []uint32{1, 2}, time.Second)
	c.eng[2].Close() // node 2 runs no heartbeat at all
	for i := 0; i < 3*DefaultMisses; i++ {
		if r := c.step(1); len(r) > 0 {
			t.Fatalf("step %d reported %v", i, r)
		}
	}
	if l := c.eng[1].Links()[0]; l.Fenced || l.Answers != 0 {
		t.Fatalf("link %+v", l)
	}
}

// A stalled daemon (it stops calling Stamp and Tick, its socket reader
// still runs, as the kernel path would) keeps being answered for Grace,
// then stops: a short stall is not reported, a long one is. Node 3 is the
// assigned prober of node 1 (node 1 only hears its probes), so node 1 must
// start asking when the probes stop; node 2 probes node 3 itself.
func TestEngineLivenessStamp(t *testing.T) {
	ids := []uint32{1, 2, 3}
	grace := 10 * DefaultInterval
	c := newCluster(t, ids, grace)
	if c.eng[1].peers[3].assigned || !c.eng[3].peers[1].assigned || !c.eng[2].peers[3].assigned {
		t.Fatal("unexpected probe assignment")
	}
	for i := 0; i < 3; i++ {
		c.step(ids...)
	}
	// Node 3 stalls for less than its grace: nobody sees a change.
	for i := 0; i < 8; i++ {
		if r := c.step(1, 2); len(r) > 0 {
			t.Fatalf("short stall reported at %d: %v", i, r)
		}
	}
	c.step(ids...)
	// Now a long stall: answers stop once the stamp is older than grace.
	got := map[uint32]int{}
	for n := 1; n <= 30 && len(got) < 2; n++ {
		for id, r := range c.step(1, 2) {
			if !slices.Equal(r, []uint32{3}) {
				t.Fatalf("node %d reported %v", id, r)
			}
			got[id] = n
		}
	}
	// Stamped at step 0 of the stall; answered while its age <= grace
	// (10 intervals), then Misses silent evaluations.
	for _, id := range []uint32{1, 2} {
		if n := got[id]; n < 10 || n > 10+DefaultMisses+2 {
			t.Fatalf("node %d reported the long stall after %d intervals (0 = never), want about %d", id, n, 10+DefaultMisses)
		}
	}
	// The stalled node, back to work, does not report nodes that were
	// there all along, even though its own ticks stopped for a while.
	for i := 0; i < DefaultMisses+2; i++ {
		if r := c.step(ids...)[3]; r != nil {
			t.Fatalf("resumed node reported %v", r)
		}
	}
}

func TestProbeAssignmentCoversEveryWatchedPairOnce(t *testing.T) {
	for n := 2; n <= 14; n++ {
		ids := make([]uint32, n)
		for i := range ids {
			ids[i] = uint32(10 * (i + 1)) // not contiguous
		}
		c := newCluster(t, ids, time.Second)
		for _, a := range ids {
			watched := 0
			for _, b := range ids {
				if a == b {
					continue
				}
				pa, pb := c.eng[a].peers[b], c.eng[b].peers[a]
				if pa.watched != pb.watched {
					t.Fatalf("%d nodes: %d watches %d: %v, the other way: %v", n, a, b, pa.watched, pb.watched)
				}
				if pa.watched {
					watched++
					if pa.assigned == pb.assigned {
						t.Fatalf("%d nodes: watched pair %d-%d probed by %v/%v", n, a, b, pa.assigned, pb.assigned)
					}
				} else if pa.assigned || pb.assigned {
					t.Fatalf("%d nodes: unwatched pair %d-%d probed every interval", n, a, b)
				}
			}
			if want := min(n-1, 2*Watchers); watched != want {
				t.Fatalf("%d nodes: node %d watches %d peers, want %d", n, a, watched, want)
			}
		}
	}
}

// In a ring larger than 2*Watchers+1 a cut node is reported by its
// watchers only; the others judge it once wide mode is on (a membership
// change under way), within Misses intervals.
func TestEngineWatchersReportAndWideModeJudgesAll(t *testing.T) {
	var ids []uint32
	for id := uint32(1); id <= 12; id++ {
		ids = append(ids, id)
	}
	c := newCluster(t, ids, time.Second)
	for i := 0; i < slowEvery+2; i++ {
		if got := c.step(ids...); len(got) > 0 {
			t.Fatalf("healthy step %d reported %v", i, got)
		}
	}
	sent := func() (n uint64) {
		for _, e := range c.eng {
			for _, l := range e.Links() {
				n += l.Sent
			}
		}
		return n
	}
	before := sent()
	for i := 0; i < slowEvery; i++ {
		c.step(ids...)
	}
	// Watchers probes per node and interval, the slow probes to the 8
	// others spread over slowEvery intervals, and some slack for readers
	// that lag a step (a silent peer is asked at once). Every pair would
	// be 66 probes an interval, 5.5 per node.
	if got, most := sent()-before, uint64(len(ids)*(Watchers+1)*slowEvery); got > most {
		t.Fatalf("%d probes in %d intervals, want at most %d", got, slowEvery, most)
	}
	c.net.Cut(addrOf(6))
	got := map[uint32][]uint32{}
	for i := 0; i <= DefaultMisses+2; i++ {
		for id, r := range c.step(ids...) {
			got[id] = r
		}
	}
	for _, id := range ids {
		near := id != 6 && (id >= 3 && id <= 9)
		switch {
		case id == 6:
		case near && !slices.Equal(got[id], []uint32{6}):
			t.Fatalf("watcher %d reported %v, want [6]", id, got[id])
		case !near && got[id] != nil:
			t.Fatalf("node %d, not a watcher of 6, reported %v", id, got[id])
		}
	}
	// Node 12 does not watch 6; in wide mode it judges it itself.
	c.eng[12].SetWide(true)
	var wide []uint32
	for i := 0; i <= DefaultMisses+2 && wide == nil; i++ {
		wide = c.step(ids...)[12]
	}
	if !slices.Equal(wide, []uint32{6}) {
		t.Fatalf("node 12 in wide mode reported %v, want [6]", wide)
	}
	// And back: heal, narrow again, and node 6 is reachable everywhere.
	c.eng[12].SetWide(false)
	c.net.Heal(addrOf(6))
	for i := 0; i < 3; i++ {
		c.step(ids...)
	}
	for _, id := range ids {
		if id != 6 && c.eng[id].Unreachable(6) {
			t.Fatalf("node %d still has 6 unreachable after the heal", id)
		}
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	if _, err := Open(Config{NodeID: 1, Port: 5407}); err == nil {
		t.Fatal("no links accepted")
	}
	if _, err := Open(Config{Port: 5407, Links: []LinkConfig{{}}}); err == nil {
		t.Fatal("nodeid 0 accepted")
	}
}

// A node that just started probes every peer until it answers, so that
// within a few intervals it knows all ringfenced peers (and can report
// them), not only its watched neighbours and those the slow probes
// reached. A partition right after a restart is then judged by the
// heartbeat, not left to the consensus timeout.
func TestEngineDiscoversEveryPeerAtStart(t *testing.T) {
	var ids []uint32
	for id := uint32(1); id <= 12; id++ {
		ids = append(ids, id)
	}
	c := newCluster(t, ids, time.Second)
	for range 3 {
		c.step(ids...)
	}
	for _, id := range ids {
		for _, l := range c.eng[id].Links() {
			if !l.Fenced {
				t.Fatalf("node %d does not know after 3 intervals that node %d runs the heartbeat", id, l.Node)
			}
		}
	}
	// Node 12, cut now, is judged by a node that does not watch it once
	// that node is in wide mode.
	c.net.Cut(addrOf(12))
	c.eng[6].SetWide(true)
	var wide []uint32
	for i := 0; i <= DefaultMisses+2 && wide == nil; i++ {
		wide = c.step(ids...)[6]
	}
	if !slices.Equal(wide, []uint32{12}) {
		t.Fatalf("node 6 in wide mode reported %v, want [12]", wide)
	}
}

// In a mixed ring the watch circle holds the ringfenced nodes only: here
// each of them has three Corosync nodes on either side in the nodelist,
// so on the nodelist's circle nobody would watch it. Once discovery is
// over they watch each other, a cut one is reported without wide mode,
// and the Corosync nodes get only the slow probes.
func TestEngineMixedRingWatchesRingfencedNeighbours(t *testing.T) {
	var all []uint32
	for id := uint32(1); id <= 15; id++ {
		all = append(all, id)
	}
	run := []uint32{1, 6, 11}
	c := newMixedCluster(t, all, run, time.Second)
	for range discoverProbes + 2 {
		if got := c.step(run...); len(got) > 0 {
			t.Fatalf("discovery reported %v", got)
		}
	}
	for _, a := range run {
		for _, b := range run {
			if a != b && !c.eng[a].peers[b].watched {
				t.Fatalf("ringfenced node %d does not watch ringfenced node %d after discovery", a, b)
			}
		}
		for _, id := range all {
			if ps := c.eng[a].peers[id]; ps != nil && !slices.Contains(run, id) && (ps.watched || ps.assigned) {
				t.Fatalf("node %d watches Corosync node %d (assigned %v)", a, id, ps.assigned)
			}
		}
	}
	sentTo := func(from, to uint32) uint64 {
		for _, l := range c.eng[from].Links() {
			if l.Node == to {
				return l.Sent
			}
		}
		t.Fatalf("node %d has no link to %d", from, to)
		return 0
	}
	before := sentTo(1, 3)
	for range slowEvery {
		c.step(run...)
	}
	if n := sentTo(1, 3) - before; n > 1 {
		t.Fatalf("%d probes to Corosync node 3 in %d intervals, want the slow probe only", n, slowEvery)
	}
	c.net.Cut(addrOf(6))
	got := map[uint32][]uint32{}
	for i := 0; i <= DefaultMisses+2; i++ {
		for id, r := range c.step(1, 11) {
			got[id] = r
		}
	}
	for _, id := range []uint32{1, 11} {
		if !slices.Equal(got[id], []uint32{6}) {
			t.Fatalf("node %d reported %v after node 6 was cut, want [6]", id, got[id])
		}
	}
}

// Totem traffic overrules silent probes: while node 3's datagrams keep
// reaching nodes 1 and 2 (Heard), its silence on the heartbeat port is
// not reported, and after a while it is warned about; once the traffic
// stops too, the report follows Misses-1 intervals later. A node that
// dies goes quiet on both at once, and is reported exactly as soon as
// without the traffic (TestEngineReportsCutPeerAfterMisses: Misses+1
// steps after the cut).
func TestEngineTotemTrafficOverrulesProbes(t *testing.T) {
	ids := []uint32{1, 2, 3}
	c := newCluster(t, ids, time.Second)
	logger, hook := logtest.NewNullLogger()
	c.eng[1].cfg.Log = logrus.NewEntry(logger)
	heard := func() {
		c.eng[1].Heard(3)
		c.eng[2].Heard(3)
	}
	for range 5 {
		heard()
		if got := c.step(ids...); len(got) > 0 {
			t.Fatalf("healthy step reported %v", got)
		}
	}
	c.net.Cut(addrOf(3)) // the probes only: totem still flows
	for i := range vetoWarnAfter + DefaultMisses + 2 {
		heard()
		if got := c.step(1, 2); len(got) > 0 {
			t.Fatalf("step %d: reported %v while node 3's totem traffic arrives", i, got)
		}
	}
	warned := 0
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "node 3 has answered no probe on port 5407") {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d warnings about the blocked port, want 1: %v", warned, hook.AllEntries())
	}
	for i := 1; i <= DefaultMisses; i++ {
		got := c.step(1, 2)
		if len(got) == 0 {
			continue
		}
		if i != DefaultMisses-1 || !slices.Equal(got[1], []uint32{3}) || !slices.Equal(got[2], []uint32{3}) {
			t.Fatalf("step %d after the traffic stopped: reported %v, want [3] from nodes 1 and 2 at step %d", i, got, DefaultMisses-1)
		}
		break
	}
	if !c.eng[1].Unreachable(3) {
		t.Fatal("node 3 not reported once its totem traffic stopped")
	}

	// Heal, then a death: the last datagram arrives just before the cut.
	c.net.Heal(addrOf(3))
	for range 3 {
		heard()
		c.step(ids...)
	}
	if c.eng[1].Unreachable(3) {
		t.Fatal("healed node 3 still unreachable")
	}
	heard()
	c.net.Cut(addrOf(3))
	when := 0
	for i := 1; i <= DefaultMisses+2 && when == 0; i++ {
		if r := c.step(1, 2)[1]; r != nil {
			when = i
		}
	}
	if when != DefaultMisses+1 {
		t.Fatalf("a dead node with traffic up to its death reported after %d intervals, want %d", when, DefaultMisses+1)
	}
}

// A reported peer whose totem traffic arrives again is reachable again,
// whether or not it answers probes: a node restarted as Corosync (no
// heartbeat) in a rolling migration must not stay "unreachable", since
// the daemon leaves unreachable peers out of its multicasts.
func TestEngineTotemTrafficClearsUnreachable(t *testing.T) {
	ids := []uint32{1, 2, 3}
	c := newCluster(t, ids, time.Second)
	for range 5 {
		c.step(ids...)
	}
	c.eng[3].Close() // node 3 stops, and comes back without a heartbeat
	var got []uint32
	for i := 0; i <= DefaultMisses+2 && got == nil; i++ {
		got = c.step(1, 2)[1]
	}
	if !slices.Equal(got, []uint32{3}) || !c.eng[1].Unreachable(3) {
		t.Fatalf("node 1 reported %v, want [3]", got)
	}
	c.eng[1].Heard(3)
	if r := c.step(1, 2); len(r) > 0 {
		t.Fatalf("reported %v", r)
	}
	if c.eng[1].Unreachable(3) {
		t.Fatal("node 3's totem traffic did not make it reachable again")
	}
	// Heard all along, it is not reported again although it never
	// answers; once the traffic stops, it is.
	for range DefaultMisses + 2 {
		c.eng[1].Heard(3)
		if r := c.step(1, 2)[1]; r != nil {
			t.Fatalf("reported %v while heard", r)
		}
	}
	got = nil
	for i := 0; i <= DefaultMisses && got == nil; i++ {
		got = c.step(1, 2)[1]
	}
	if !slices.Equal(got, []uint32{3}) {
		t.Fatalf("silent again: reported %v, want [3]", got)
	}
}
