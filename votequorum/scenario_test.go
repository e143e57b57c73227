package votequorum

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// Scenario files (testdata/*.txt) drive a small cluster of Machines that
// talk through an ideal network: each partition is one totem ring that
// delivers every multicast to all its members in one agreed order. A file
// is a list of commands; a command may be followed by "----" and the
// output it must produce, up to a blank line. Lines starting with # are
// comments. Run with -rewrite to rewrite the expected blocks (then review
// the diff: the expectations are the test).
//
// Commands:
//
//	config key=value ...        settings for nodes started from now on:
//	    nodes=1,2:3,4            nodelist (2:3 = node 2 with quorum_votes 3)
//	    expected_votes=N votes=N two_node=0|1 wait_for_all=0|1
//	    lms=0|1 lms_window=MS atb=0|1 atb_node=lowest|highest|3,1
//	    allow_downscale=0|1 ev_tracking=0|1
//	    qdevice=MODEL qdevice_votes=N qdevice_timeout=MS qdevice_sync_timeout=MS
//	start ID...                  boot nodes, each alone in its own ring first
//	partition 1 2 | 3            set the rings (all running nodes must appear);
//	                             a group starting with "<" delivers its
//	                             senders in descending id order (totem's
//	                             agreed order depends on the token's path)
//	stop ID                      clean shutdown (Leave, then the ring shrinks)
//	kill ID                      crash
//	tick DURATION                advance the clock for everybody
//	setexpected ON VALUE         SETEXPECTED on node ON
//	setvotes ON NODE VOTES       SETVOTES on node ON
//	cancel_wfa ON                quorum.cancel_wait_for_all on node ON
//	qdev-register ON NAME | qdev-unregister ON NAME | qdev-update ON OLD NEW
//	qdev-poll ON NAME 0|1 [stale]   poll with cast_vote; stale = old ring id
//	qdev-master-wins ON NAME 0|1
//	status [ID...]               one GETINFO line per node
//	getinfo ON ID                GETINFO for ID as node ON sees it
//	runtime ON                   runtime.votequorum.* keys
//	quorumtool ON                the corosync-quorumtool votequorum block
//	nodelist ON                  node ON's quorum notification (tracker view)
//	evstore ID [VALUE]           show or preset node ID's ev_tracking file
//	show msgs=0|1 debug=0|1 events=0|1   what the event output includes
//	allow-split-brain            stop checking the split-brain invariant
//	                             (for files that show corosync breaking it)
//
// Every command prints what happened as "nN: ..." lines: log lines at
// notice level and above (corosync's operator log), notifications to
// votequorum trackers, command replies, and optionally exec messages,
// debug lines and quorum service events.
var rewrite = flag.Bool("rewrite", false, "rewrite scenario expectations")

var scenarioEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type simNode struct {
	m      *Machine
	store  *MemoryEVStore
	ring   []uint32 // members of its current ring
	desc   bool     // its ring delivers senders in descending id order
	synced bool     // sync finished for the current ring
	wait   bool     // last SyncProcess asked to wait
}

type cluster struct {
	t       *testing.T
	cfg     map[string]string
	stores  map[uint32]*MemoryEVStore
	nodes   map[uint32]*simNode
	now     time.Time
	ringSeq uint64
	out     *strings.Builder

	showMsgs, showDebug, showEvents bool
	allowSplitBrain                 bool
}

func newCluster(t *testing.T) *cluster {
	return &cluster{t: t, cfg: map[string]string{}, stores: map[uint32]*MemoryEVStore{},
		nodes: map[uint32]*simNode{}, now: scenarioEpoch, out: &strings.Builder{}}
}

func (c *cluster) printf(format string, args ...any) { fmt.Fprintf(c.out, format+"\n", args...) }

func u32p(s string) (*uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, err
	}
	x := uint32(v)
	return &x, nil
}

func (c *cluster) config(id uint32) (Config, error) {
	cfg := Config{NodeID: id}
	if _, ok := c.cfg["ev_tracking"]; ok || c.cfg["allow_downscale"] == "1" {
		if c.stores[id] == nil {
			c.stores[id] = &MemoryEVStore{}
		}
		cfg.EVStore = c.stores[id]
	}
	for k, v := range c.cfg {
		var err error
		on := v == "1"
		switch k {
		case "nodes":
			for _, e := range strings.Split(v, ",") {
				idS, votesS, hasVotes := strings.Cut(e, ":")
				nid, err := strconv.ParseUint(idS, 10, 32)
				if err != nil {
					return cfg, err
				}
				ne := NodeEntry{NodeID: uint32(nid)}
				if hasVotes {
					if ne.QuorumVotes, err = u32p(votesS); err != nil {
						return cfg, err
					}
				}
				cfg.Nodelist = append(cfg.Nodelist, ne)
			}
		case "expected_votes":
			var p *uint32
			p, err = u32p(v)
			if err == nil {
				cfg.ExpectedVotes = *p
			}
		case "votes":
			cfg.Votes, err = u32p(v)
		case "two_node":
			cfg.TwoNode = on
		case "wait_for_all":
			cfg.WaitForAll = &on
		case "lms":
			cfg.LastManStanding = on
		case "lms_window":
			cfg.LastManStandingWindowMS, err = u32p(v)
		case "atb":
			cfg.AutoTieBreaker = on
		case "atb_node":
			s := strings.ReplaceAll(v, ",", " ")
			cfg.AutoTieBreakerNode = &s
		case "allow_downscale":
			cfg.AllowDownscale = on
		case "ev_tracking":
			cfg.ExpectedVotesTracking = on
		case "qdevice":
			cfg.Qdevice.Model = v
		case "qdevice_votes":
			cfg.Qdevice.Votes, err = u32p(v)
		case "qdevice_timeout":
			cfg.Qdevice.TimeoutMS, err = u32p(v)
		case "qdevice_sync_timeout":
			cfg.Qdevice.SyncTimeoutMS, err = u32p(v)
		default:
			return cfg, fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return cfg, fmt.Errorf("config %s=%s: %v", k, v, err)
		}
	}
	return cfg, nil
}

func (c *cluster) sortedIDs() []uint32 {
	ids := make([]uint32, 0, len(c.nodes))
	for id := range c.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// drain records one node's non-message output and returns its messages.
func (c *cluster) drain(id uint32) []Message {
	n := c.nodes[id]
	r := n.m.Ready()
	for _, l := range r.Logs {
		if l.Level == logrus.DebugLevel && !c.showDebug {
			continue
		}
		c.printf("n%d: log: %s", id, strings.TrimRight(l.Text, "\n"))
	}
	for _, nt := range r.Notifications {
		c.printf("n%d: notify: %s", id, nt)
	}
	for _, s := range r.RegisterReplies {
		c.printf("n%d: qdevice register reply: %s", id, s)
	}
	if c.showEvents {
		for _, e := range r.QuorumEvents {
			c.printf("n%d: quorum event: quorate=%v members=%v ring=%s", id, e.Quorate, e.Members, e.RingID)
		}
	}
	return r.Messages
}

// flush delivers everything the nodes of ring have queued, sender by
// sender in id order, until nothing is left.
func (c *cluster) flush(ring []uint32) {
	senders := ring
	if len(ring) > 0 && c.nodes[ring[0]].desc {
		senders = slices.Clone(ring)
		slices.Reverse(senders)
	}
	for round := 0; ; round++ {
		if round > 100 {
			c.t.Fatalf("message storm in ring %v", ring)
		}
		any := false
		for _, sender := range senders {
			msgs := c.drain(sender)
			for _, msg := range msgs {
				any = true
				if c.showMsgs {
					c.printf("n%d: send: %s", sender, msg)
				}
				// Go through the codec so that the scenarios also
				// exercise the wire format.
				b := msg.Encode()
				for _, dst := range ring {
					if err := c.nodes[dst].m.DeliverBytes(sender, b, false); err != nil {
						c.printf("n%d: deliver from n%d failed: %v", dst, sender, err)
					}
				}
			}
		}
		if !any {
			return
		}
	}
}

func (c *cluster) ringOf(id uint32) []uint32 { return c.nodes[id].ring }

// formRing installs a new ring with these members and runs votequorum's
// part of the sync on each.
func (c *cluster) formRing(members []uint32, desc bool) {
	members = slices.Clone(members)
	slices.Sort(members)
	c.ringSeq += 4
	ring := RingID{Rep: members[0], Seq: c.ringSeq}
	// Messages queued before the ring (the startup NODEINFO) go out first
	// in the new ring, before the sync reaches votequorum.
	for _, id := range members {
		c.nodes[id].ring = members
		c.nodes[id].desc = desc
	}
	c.flush(members)
	for _, id := range members {
		n := c.nodes[id]
		n.synced = false
		var trans []uint32
		for _, o := range n.m.Members() {
			if slices.Contains(members, o) {
				trans = append(trans, o)
			}
		}
		n.m.SyncInit(trans, members, ring)
	}
	c.syncStep(members)
}

// syncStep calls SyncProcess on every member still syncing, delivers the
// result, and activates the ring when nobody waits any more.
func (c *cluster) syncStep(members []uint32) {
	pending := false
	for _, id := range members {
		n := c.nodes[id]
		if n.synced {
			continue
		}
		pending = true
		n.wait = n.m.SyncProcess()
	}
	if !pending {
		return
	}
	c.flush(members)
	for _, id := range members {
		if c.nodes[id].wait {
			c.printf("n%d: sync waits for the quorum device", id)
			return
		}
	}
	for _, id := range members {
		c.nodes[id].m.SyncActivate()
		c.nodes[id].synced = true
	}
	c.flush(members)
}

func (c *cluster) rings() [][]uint32 {
	seen := map[uint32]bool{}
	var out [][]uint32
	for _, id := range c.sortedIDs() {
		if seen[id] {
			continue
		}
		r := c.nodes[id].ring
		for _, o := range r {
			seen[o] = true
		}
		out = append(out, r)
	}
	return out
}

func (c *cluster) afterCommand() {
	for _, r := range c.rings() {
		c.flush(r)
		c.syncStep(r)
	}
}

func (c *cluster) node(s string) (*simNode, uint32, error) {
	id, err := strconv.ParseUint(strings.TrimPrefix(s, "n"), 10, 32)
	if err != nil {
		return nil, 0, fmt.Errorf("bad node id %q", s)
	}
	n := c.nodes[uint32(id)]
	if n == nil {
		return nil, 0, fmt.Errorf("node %d is not running", id)
	}
	return n, uint32(id), nil
}

func (c *cluster) statusLine(id uint32) string {
	m := c.nodes[id].m
	info, _ := m.GetInfo(0)
	q := "no"
	if m.Quorate() {
		q = "yes"
	}
	return fmt.Sprintf("n%d: quorate=%s quorum=%d expected=%d highest=%d total=%d flags=%s wfa_status=%d ring=%s members=%v",
		id, q, info.Quorum, info.ExpectedVotes, info.HighestExpected, info.TotalVotes,
		strings.TrimSpace(info.FlagNames()), b2u(m.WaitForAllStatus()), m.RingID(), m.Members())
}

func (c *cluster) run(cmd string, args []string) error {
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d arguments", cmd, n)
		}
		return nil
	}
	switch cmd {
	case "config":
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return fmt.Errorf("config wants key=value, got %q", a)
			}
			c.cfg[k] = v
		}
	case "allow-split-brain":
		// The file demonstrates a corosync behaviour that breaks the
		// invariant; it must say why in a comment.
		c.allowSplitBrain = true
	case "show":
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			on := v == "1"
			switch k {
			case "msgs":
				c.showMsgs = on
			case "debug":
				c.showDebug = on
			case "events":
				c.showEvents = on
			default:
				return fmt.Errorf("unknown show key %q", k)
			}
		}
	case "start":
		for _, a := range args {
			id, err := strconv.ParseUint(a, 10, 32)
			if err != nil {
				return err
			}
			if c.nodes[uint32(id)] != nil {
				return fmt.Errorf("node %d already runs", id)
			}
			cfg, err := c.config(uint32(id))
			if err != nil {
				return err
			}
			m, err := New(cfg, c.now)
			if err != nil {
				c.printf("n%d: start failed: %v", id, err)
				continue
			}
			c.nodes[uint32(id)] = &simNode{m: m, store: c.stores[uint32(id)]}
			c.formRing([]uint32{uint32(id)}, false)
		}
	case "partition":
		groups := [][]uint32{{}}
		desc := []bool{false}
		for _, a := range args {
			if a == "|" {
				groups = append(groups, []uint32{})
				desc = append(desc, false)
				continue
			}
			if a == "<" {
				desc[len(desc)-1] = true
				continue
			}
			_, id, err := c.node(a)
			if err != nil {
				return err
			}
			groups[len(groups)-1] = append(groups[len(groups)-1], id)
		}
		total := 0
		for _, g := range groups {
			total += len(g)
		}
		if total != len(c.nodes) {
			return fmt.Errorf("partition must list every running node exactly once")
		}
		for i, g := range groups {
			slices.Sort(g)
			changed := false
			for _, id := range g {
				if !slices.Equal(c.nodes[id].ring, g) {
					changed = true
				}
			}
			if changed {
				c.formRing(g, desc[i])
			}
		}
	case "stop", "kill":
		if err := need(1); err != nil {
			return err
		}
		n, id, err := c.node(args[0])
		if err != nil {
			return err
		}
		ring := n.ring
		if cmd == "stop" {
			n.m.Leave()
			c.flush(ring)
		}
		delete(c.nodes, id)
		rest := slices.DeleteFunc(slices.Clone(ring), func(x uint32) bool { return x == id })
		if len(rest) > 0 {
			c.formRing(rest, n.desc)
		}
	case "tick":
		if err := need(1); err != nil {
			return err
		}
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return err
		}
		c.now = c.now.Add(d)
		for _, id := range c.sortedIDs() {
			c.nodes[id].m.Tick(c.now)
		}
		c.afterCommand()
	case "setexpected", "setvotes", "cancel_wfa", "qdev-register", "qdev-unregister", "qdev-update", "qdev-poll", "qdev-master-wins":
		if err := need(1); err != nil {
			return err
		}
		n, id, err := c.node(args[0])
		if err != nil {
			return err
		}
		num := func(i int) (uint32, error) {
			if err := need(i + 1); err != nil {
				return 0, err
			}
			v, err := strconv.ParseUint(args[i], 10, 32)
			return uint32(v), err
		}
		var st Status
		switch cmd {
		case "setexpected":
			v, err := num(1)
			if err != nil {
				return err
			}
			st = n.m.SetExpected(v)
		case "setvotes":
			target, err := num(1)
			if err != nil {
				return err
			}
			v, err := num(2)
			if err != nil {
				return err
			}
			st = n.m.SetVotes(target, v)
		case "cancel_wfa":
			n.m.CancelWaitForAll()
			st = OK
		case "qdev-register":
			if err := need(2); err != nil {
				return err
			}
			var pending bool
			st, pending = n.m.QdeviceRegister(args[1])
			if pending {
				c.printf("n%d: qdevice register pending", id)
				c.afterCommand()
				return nil
			}
		case "qdev-unregister":
			if err := need(2); err != nil {
				return err
			}
			st = n.m.QdeviceUnregister(args[1])
		case "qdev-update":
			if err := need(3); err != nil {
				return err
			}
			st = n.m.QdeviceUpdate(args[1], args[2])
		case "qdev-poll", "qdev-master-wins":
			v, err := num(2)
			if err != nil {
				return err
			}
			if cmd == "qdev-master-wins" {
				st = n.m.QdeviceMasterWins(args[1], v == 1)
				break
			}
			ring := n.m.RingID()
			if len(args) > 3 && args[3] == "stale" {
				ring.Seq -= 4
			}
			st = n.m.QdevicePoll(args[1], v == 1, ring)
		}
		c.printf("n%d: %s -> %s", id, cmd, st)
		c.afterCommand()
	case "status":
		ids := c.sortedIDs()
		if len(args) > 0 {
			ids = nil
			for _, a := range args {
				_, id, err := c.node(a)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			c.printf("%s", c.statusLine(id))
		}
	case "getinfo":
		if err := need(2); err != nil {
			return err
		}
		n, id, err := c.node(args[0])
		if err != nil {
			return err
		}
		target, err := strconv.ParseUint(args[1], 10, 32)
		if err != nil {
			return err
		}
		info, st := n.m.GetInfo(uint32(target))
		if st != OK {
			c.printf("n%d: getinfo %d -> %s", id, target, st)
			return nil
		}
		c.printf("n%d: getinfo %d -> state=%s votes=%d expected=%d highest=%d total=%d quorum=%d flags=0x%x qdevice_votes=%d qdevice_name=%q",
			id, target, info.State, info.Votes, info.ExpectedVotes, info.HighestExpected, info.TotalVotes, info.Quorum, info.Flags, info.QdeviceVotes, info.QdeviceName)
	case "runtime":
		if err := need(1); err != nil {
			return err
		}
		n, id, err := c.node(args[0])
		if err != nil {
			return err
		}
		for _, k := range n.m.RuntimeKeys() {
			c.printf("n%d: %s = %s", id, k.Key, k.Value)
		}
	case "quorumtool":
		if err := need(1); err != nil {
			return err
		}
		n, _, err := c.node(args[0])
		if err != nil {
			return err
		}
		info, _ := n.m.GetInfo(0)
		for _, l := range strings.Split(strings.TrimSuffix(info.VotequorumBlock(), "\n"), "\n") {
			c.printf("|%s|", l)
		}
	case "evstore":
		if err := need(1); err != nil {
			return err
		}
		id64, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil {
			return err
		}
		id := uint32(id64)
		if c.stores[id] == nil {
			c.stores[id] = &MemoryEVStore{}
		}
		if len(args) > 1 {
			v, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil {
				return err
			}
			c.stores[id].Value = uint32(v)
			return nil
		}
		c.printf("n%d: ev_tracking file = %d (%d saves)", id, c.stores[id].Value, c.stores[id].Saves)
	case "nodelist":
		if err := need(1); err != nil {
			return err
		}
		n, id, err := c.node(args[0])
		if err != nil {
			return err
		}
		c.printf("n%d: %s", id, n.m.QuorumNotification())
		c.printf("n%d: %s", id, n.m.NodelistNotification())
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

// splitBrainCheck is the simulator invariant, applied after every step of
// every scenario except where the configuration allows it by design.
func (c *cluster) splitBrainCheck() error {
	if c.cfg["two_node"] == "1" || c.allowSplitBrain {
		return nil
	}
	var views []NodeView
	for _, id := range c.sortedIDs() {
		views = append(views, c.nodes[id].m.View())
	}
	return CheckSplitBrain(views)
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	c := newCluster(t)
	var rewritten bytes.Buffer
	failed := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			rewritten.WriteString(line + "\n")
			continue
		}
		lineNo := i + 1
		fields := strings.Fields(trimmed)
		c.out.Reset()
		if err := c.run(fields[0], fields[1:]); err != nil {
			t.Fatalf("%s:%d: %s: %v", path, lineNo, trimmed, err)
		}
		if err := c.splitBrainCheck(); err != nil {
			t.Errorf("%s:%d: after %q: %v", path, lineNo, trimmed, err)
		}
		got := c.out.String()
		rewritten.WriteString(line + "\n")
		var want strings.Builder
		hasBlock := i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "----"
		if hasBlock {
			i += 2
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				want.WriteString(lines[i] + "\n")
			}
			// i now points at the blank line (or past the end); let the
			// loop's i++ skip it, and keep it in the rewrite.
		}
		if hasBlock || got != "" {
			rewritten.WriteString("----\n" + got + "\n")
			if !hasBlock && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "" {
				i++ // the block brings its own blank line
			}
		}
		if !hasBlock && got == "" {
			continue
		}
		if !*rewrite && got != want.String() {
			failed = true
			t.Errorf("%s:%d: %s\n--- got:\n%s--- want:\n%s", path, lineNo, trimmed, got, want.String())
		}
	}
	if *rewrite {
		out := strings.TrimRight(rewritten.String(), "\n") + "\n"
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if failed {
		t.Log("run with -rewrite to regenerate, then review the diff")
	}
}
