package srp_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
)

// Scenario files in testdata/*.txt drive a simulated cluster line by line.
// Every run is deterministic (seed 1 unless a `seed N` line says
// otherwise) and the virtual-synchrony checker runs after every step, so a
// scenario fails on any invariant violation even without an expect line.
//
// Commands:
//
//	nodes 1 2 3              declare the nodelist (first line)
//	seed N                   network randomness (delays)
//	token 300ms              base token timeout (default 300ms)
//	ringseq 3 100            preset node 3's stored ring seq
//	set fail_recv_const 50   override a totem constant (also
//	                         seqno_unchanged_const, max_messages,
//	                         window_size, miss_count_const)
//	start 1 2 | restart 2    boot nodes
//	crash 2 | leave 2        stop a node silently / cleanly
//	run 2s | tick 2s         advance virtual time
//	send 1 "hello"           application on node 1 broadcasts
//	partition 1 2 | 3        split the network; heal restores it
//	block 1->2               cut one direction of a link
//	drop token 1->2 [N]      discard the next N (default 1) packets of a type
//	loss 0.2                 random packet loss from now on
//
// Expectations:
//
//	expect ring 1.5 members 1 2       these nodes are OPERATIONAL in that ring
//	expect ring * members 3           same, any ring id
//	expect state 2 GATHER
//	expect delivered 2 "a" "b"        node 2 delivered exactly these, in order
//	expect same-delivery 1 2 3        nodes delivered identical sequences
//	expect conf 1 TRANSITIONAL 1.9 members 1 2 left 3
//	expect conf 1 REGULAR 1.9 members 1 2 3 joined 3
//	expect notice 1 "A new membership (1.9) was formed. Members joined: 3"
//	expect no-notice 1 "Failed to receive"
//	expect stat 1 mcast_retx > 0      (also >=, ==, <=, <)
//	expect storedseq 2 9
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		f := f
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	t        *testing.T
	file     string
	line     int
	s        *sim.Sim
	seed     int64
	token    time.Duration
	base     srp.BaseTiming
	ids      []uint32
	presets  map[uint32]uint64
	delivers map[uint32][]string
	confs    map[uint32][]string
	notices  map[uint32][]string
}

func runScenario(t *testing.T, file string) {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := &scenario{t: t, file: file, seed: 1, token: 300 * time.Millisecond, presets: map[uint32]uint64{},
		delivers: map[uint32][]string{}, confs: map[uint32][]string{}, notices: map[uint32][]string{}}
	scan := bufio.NewScanner(fh)
	for scan.Scan() {
		sc.line++
		line := strings.TrimSpace(scan.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := splitWords(line)
		if err != nil {
			sc.fatalf("%v", err)
		}
		sc.exec(words)
		if sc.s != nil {
			if err := sc.s.Check.Err(); err != nil {
				sc.fatalf("%v", err)
			}
		}
	}
	if err := scan.Err(); err != nil {
		t.Fatal(err)
	}
}

func (sc *scenario) fatalf(format string, args ...any) {
	sc.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if sc.s != nil {
		msg += "\n" + sc.s.Describe()
		if testing.Verbose() {
			for _, l := range sc.s.TraceLog {
				sc.t.Log(l)
			}
		}
	}
	sc.t.Fatalf("%s:%d: %s", sc.file, sc.line, msg)
}

// world builds the simulator lazily so that seed/token/ringseq lines can
// come before the first start.
func (sc *scenario) world() *sim.Sim {
	if sc.s != nil {
		return sc.s
	}
	if len(sc.ids) == 0 {
		sc.fatalf("nodes line missing")
	}
	b := sc.base
	b.Token, b.TokenCoefficientSet = sc.token, true
	timing := srp.TimingFromConfig(b, len(sc.ids))
	sc.s = sim.New(sc.seed, sc.ids, timing)
	sc.s.EnableTrace()
	for id, seq := range sc.presets {
		sc.s.SetStoredRingSeq(id, seq)
	}
	sc.s.Observe = func(id uint32, rd srp.Ready) {
		for _, ev := range rd.Events {
			if ev.Msg != nil {
				sc.delivers[id] = append(sc.delivers[id], sim.MsgBody(ev.Msg.Payload))
			} else {
				sc.confs[id] = append(sc.confs[id], confString(ev.Conf))
			}
		}
		sc.notices[id] = append(sc.notices[id], rd.Notices...)
	}
	return sc.s
}

func confString(c *srp.ConfChg) string {
	s := fmt.Sprintf("%s %s members %s", c.Type, c.RingID, ids(c.Members))
	if len(c.Left) > 0 && c.Type == srp.Transitional {
		s += " left " + ids(c.Left)
	}
	if len(c.Joined) > 0 {
		s += " joined " + ids(c.Joined)
	}
	return s
}

func ids(l []uint32) string {
	var p []string
	for _, id := range l {
		p = append(p, strconv.Itoa(int(id)))
	}
	return strings.Join(p, " ")
}

func (sc *scenario) node(w string) uint32 {
	v, err := strconv.ParseUint(w, 10, 32)
	if err != nil || v == 0 {
		sc.fatalf("bad node id %q", w)
	}
	return uint32(v)
}

func (sc *scenario) nodesOf(ws []string) []uint32 {
	var out []uint32
	for _, w := range ws {
		out = append(out, sc.node(w))
	}
	return out
}

func (sc *scenario) duration(w string) time.Duration {
	d, err := time.ParseDuration(w)
	if err != nil {
		sc.fatalf("bad duration %q", w)
	}
	return d
}

func (sc *scenario) exec(w []string) {
	sc.t.Helper()
	switch w[0] {
	case "nodes":
		sc.ids = sc.nodesOf(w[1:])
	case "seed":
		v, err := strconv.ParseInt(w[1], 10, 64)
		if err != nil {
			sc.fatalf("bad seed")
		}
		sc.seed = v
	case "token":
		sc.token = sc.duration(w[1])
	case "set":
		v, err := strconv.Atoi(w[2])
		if err != nil {
			sc.fatalf("bad value %q", w[2])
		}
		switch w[1] {
		case "fail_recv_const":
			sc.base.FailRecvConst = v
		case "seqno_unchanged_const":
			sc.base.SeqnoUnchangedConst = v
		case "max_messages":
			sc.base.MaxMessages = v
		case "window_size":
			sc.base.WindowSize = v
		case "miss_count_const":
			sc.base.MissCountConst = v
		default:
			sc.fatalf("unknown setting %q", w[1])
		}
	case "ringseq":
		sc.presets[sc.node(w[1])], _ = strconv.ParseUint(w[2], 10, 64)
	case "start", "restart":
		for _, id := range sc.nodesOf(w[1:]) {
			delete(sc.delivers, id) // a restarted process starts with nothing delivered
			if err := sc.world().Start(id); err != nil {
				sc.fatalf("%v", err)
			}
		}
	case "crash":
		for _, id := range sc.nodesOf(w[1:]) {
			sc.world().Crash(id)
		}
	case "leave":
		for _, id := range sc.nodesOf(w[1:]) {
			sc.world().Leave(id)
		}
	case "run", "tick":
		if err := sc.world().RunFor(sc.duration(w[1])); err != nil {
			sc.fatalf("%v", err)
		}
	case "send":
		if len(w) != 3 {
			sc.fatalf("send NODE TEXT")
		}
		if err := sc.world().Broadcast(sc.node(w[1]), w[2]); err != nil {
			sc.fatalf("%v", err)
		}
	case "partition":
		var groups [][]uint32
		var cur []uint32
		for _, x := range w[1:] {
			if x == "|" {
				groups = append(groups, cur)
				cur = nil
				continue
			}
			cur = append(cur, sc.node(x))
		}
		sc.world().Partition(append(groups, cur)...)
	case "heal":
		sc.world().Heal()
	case "block":
		a, b := sc.link(w[1])
		sc.world().Block(a, b)
	case "loss":
		v, err := strconv.ParseFloat(w[1], 64)
		if err != nil {
			sc.fatalf("bad loss")
		}
		sc.world().Loss = v
	case "drop":
		types := map[string]wire.Type{"token": wire.TypeOrfToken, "mcast": wire.TypeMcast, "join": wire.TypeJoin,
			"commit": wire.TypeCommitToken, "merge": wire.TypeMergeDetect, "holdcancel": wire.TypeTokenHoldCancel}
		typ, ok := types[w[1]]
		if !ok {
			sc.fatalf("unknown packet type %q", w[1])
		}
		a, b := sc.link(w[2])
		n := 1
		if len(w) > 3 {
			n, _ = strconv.Atoi(w[3])
		}
		sc.world().DropNext(typ, a, b, n)
	case "expect":
		sc.expect(w[1:])
	default:
		sc.fatalf("unknown command %q", w[0])
	}
}

func (sc *scenario) link(w string) (uint32, uint32) {
	p := strings.Split(w, "->")
	if len(p) != 2 {
		sc.fatalf("bad link %q, want A->B", w)
	}
	return sc.node(p[0]), sc.node(p[1])
}

func (sc *scenario) expect(w []string) {
	s := sc.world()
	switch w[0] {
	case "ring":
		// expect ring ID|* members ...
		if len(w) < 4 || w[2] != "members" {
			sc.fatalf("expect ring ID members ...")
		}
		members := sc.nodesOf(w[3:])
		for _, id := range members {
			n := s.Node(id)
			if n == nil {
				sc.fatalf("node %d is down", id)
			}
			if n.State() != srp.StateOperational {
				sc.fatalf("node %d is %s, want OPERATIONAL", id, n.State())
			}
			if w[1] != "*" && n.RingID().String() != w[1] {
				sc.fatalf("node %d is in ring %s, want %s", id, n.RingID(), w[1])
			}
			if n.RingID() != s.Node(members[0]).RingID() {
				sc.fatalf("nodes %d and %d are in different rings", members[0], id)
			}
			if !reflect.DeepEqual(n.Members(), members) {
				sc.fatalf("node %d has members %v, want %v", id, n.Members(), members)
			}
		}
	case "state":
		n := s.Node(sc.node(w[1]))
		if n == nil || n.State().String() != w[2] {
			sc.fatalf("node %s state is not %s", w[1], w[2])
		}
	case "delivered":
		id := sc.node(w[1])
		want := w[2:]
		got := sc.delivers[id]
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			sc.fatalf("node %d delivered %q, want %q", id, got, want)
		}
	case "same-delivery":
		nodes := sc.nodesOf(w[1:])
		for _, id := range nodes[1:] {
			if !reflect.DeepEqual(sc.delivers[id], sc.delivers[nodes[0]]) {
				sc.fatalf("node %d delivered %q but node %d %q", id, sc.delivers[id], nodes[0], sc.delivers[nodes[0]])
			}
		}
	case "conf":
		id := sc.node(w[1])
		want := strings.Join(w[2:], " ")
		for _, c := range sc.confs[id] {
			if c == want {
				return
			}
		}
		sc.fatalf("node %d never installed %q; it installed %q", id, want, sc.confs[id])
	case "notice", "no-notice":
		id := sc.node(w[1])
		found := false
		for _, n := range sc.notices[id] {
			if strings.Contains(n, w[2]) {
				found = true
			}
		}
		if found != (w[0] == "notice") {
			sc.fatalf("node %d notices %q: %s %q", id, sc.notices[id], w[0], w[2])
		}
	case "stat":
		sc.expectStat(sc.node(w[1]), w[2], w[3], w[4])
	case "storedseq":
		want, _ := strconv.ParseUint(w[2], 10, 64)
		if got := s.StoredRingSeq(sc.node(w[1])); got != want {
			sc.fatalf("node %s stored ring seq %d, want %d", w[1], got, want)
		}
	default:
		sc.fatalf("unknown expectation %q", w[0])
	}
}

func (sc *scenario) expectStat(id uint32, name, op, val string) {
	n := sc.world().Node(id)
	if n == nil {
		sc.fatalf("node %d is down", id)
	}
	st := reflect.ValueOf(n.Stats())
	field := ""
	for _, part := range strings.Split(name, "_") {
		field += strings.ToUpper(part[:1]) + part[1:]
	}
	field = strings.NewReplacer("Orf", "Orf", "Rx", "Rx", "Tx", "Tx").Replace(field)
	f := st.FieldByNameFunc(func(s string) bool { return strings.EqualFold(s, field) })
	if !f.IsValid() {
		sc.fatalf("no stat %q", name)
	}
	got := f.Uint()
	want, err := strconv.ParseUint(val, 10, 64)
	if err != nil {
		sc.fatalf("bad number %q", val)
	}
	ok := map[string]bool{">": got > want, ">=": got >= want, "==": got == want, "<=": got <= want, "<": got < want}[op]
	if !ok {
		sc.fatalf("stat %s of node %d is %d, want %s %d", name, id, got, op, want)
	}
}

// splitWords splits on blanks and keeps "quoted strings" together.
func splitWords(line string) ([]string, error) {
	var out []string
	for len(line) > 0 {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			break
		}
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, line[1:end+1])
			line = line[end+2:]
			continue
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
	return out, nil
}
