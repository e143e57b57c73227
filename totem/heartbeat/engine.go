package heartbeat

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Defaults.
const (
	DefaultInterval = 50 * time.Millisecond
	DefaultMisses   = 4
	// PortOffset is added to the totem port when Config.Port is 0: Corosync
	// uses mcastport and mcastport-1, so +2 is free in every corosync.conf.
	PortOffset = 2
	// lossWindow is how many probe intervals the loss figure covers.
	lossWindow = 20
	// slowEvery: a peer this node does not have to probe (see assign) is
	// still probed once every slowEvery intervals, for its RTT.
	slowEvery = 20
	// discoverProbes: a peer not yet known to run the heartbeat is probed
	// every interval until it answers or this many probes went out, so a
	// node that just started knows every ringfenced peer within a few
	// intervals, not only after the slow probes came round. Until then a
	// silent peer is taken for a Corosync node and never reported, and a
	// partition in that window would leave it to the consensus timeout.
	discoverProbes = 10
	// Watchers is how many nodes watch each node on the nodeid circle:
	// its Watchers predecessors probe it, and it judges them by their
	// probes and its Watchers successors by their answers. One report is
	// enough (srp's join carries it to every survivor), so watching
	// every pair, n(n-1)/2 probes per interval, buys nothing but load
	// once rings grow: at 32 nodes Watchers=3 sends 96 probes per
	// interval instead of 496.
	Watchers = 3
)

// Peer is a member reachable on a link.
type Peer struct {
	NodeID uint32
	Addr   netip.Addr
}

// LinkConfig is one link (ring) of the local node.
type LinkConfig struct {
	Number uint8
	Local  netip.Addr
	Peers  []Peer
}

// Config configures an Engine.
type Config struct {
	NodeID uint32
	Port   uint16 // heartbeat UDP port, the same on every node
	Links  []LinkConfig
	// Interval between probes (DefaultInterval); a peer is reported after
	// Misses (DefaultMisses) intervals without an answer on every link.
	Interval time.Duration
	Misses   int
	// Grace is how long the responders keep answering after the last
	// liveness stamp: the daemon's token timeout.
	Grace time.Duration
	// NoBPF skips the XDP responder (userspace only).
	NoBPF bool
	// Listen opens a link's socket (ListenUDP when nil).
	Listen func(netip.AddrPort) (Conn, error)
	// Now is the monotonic clock in ns (CLOCK_MONOTONIC when nil, the
	// clock bpf_ktime_get_ns reads).
	Now func() uint64
	Log *logrus.Entry
}

// Monotonic reads CLOCK_MONOTONIC in ns, the clock bpf_ktime_get_ns
// reads. unix.ClockGettime is a real system call; the daemon stamps on
// every turn of its loop, so read it once and follow Go's monotonic clock
// (the same CLOCK_MONOTONIC, read through the vDSO) from there.
func Monotonic() uint64 {
	return monoBase + uint64(time.Since(monoStart))
}

var monoBase, monoStart = func() (uint64, time.Time) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano()), time.Now()
}()

// kernelPath is the in-kernel responder (see xdp.go).
type kernelPath interface {
	Stamp(now, grace uint64) error
	Lookup(k Key) (Record, error)
	Dump(into map[Key]Record) error
	Mode() string
	Close() error
}

// Engine probes peers, runs the responders and detects unreachable peers.
// Tick and Links belong to one goroutine, Stamp to the daemon's loop; the
// socket readers run on their own.
type Engine struct {
	cfg    Config
	conns  []Conn
	user   *userTable
	kernel kernelPath
	// child is kernel when the responder process plays its part
	// (child.go); the daemon then reads nothing from its sockets.
	child  *childPath
	krecs  map[Key]Record // the kernel's records, read once per Tick
	mu     sync.Mutex     // closed, mode, why, childGone, child; starting readers after Open
	closed bool
	mode   string
	// why the XDP path does not run, when the responder process does.
	why []string
	// childGone: the responder process was given up on (childExited).
	childGone bool
	seq       uint32
	// probe's per-tick buffers, reused.
	bufs     [][]byte
	dsts     []netip.AddrPort
	dstLinks []*linkState
	oks      []bool
	wg       sync.WaitGroup
	peers    map[uint32]*peerState
	order    []uint32
	// circle[i]: order[i] was on the circle at the last assign.
	circle []bool
	// handled counts datagrams the readers finished with.
	handled     atomic.Uint64
	kernelStamp atomic.Uint64
	// wide: probe and judge every peer, not only the watched ones (see
	// SetWide).
	wide atomic.Bool
}

type peerState struct {
	// assigned: this node probes the peer every interval. Each watched
	// pair needs one prober: the answers tell the prober, the probes
	// tell the other side (see assign).
	assigned bool
	// watched: this node judges the peer (it probes it or is probed by
	// it every interval). Others are judged only in wide mode.
	watched     bool
	slot        int  // spreads the slow probes over slowEvery intervals
	ringfenced  bool // answered or probed us at least once
	unreachable bool // reported, waiting for an answer
	// down mirrors unreachable for other goroutines (Unreachable).
	down  atomic.Bool
	links map[uint32]*linkState
	// heard counts the peer's totem datagrams (Heard, from the daemon's
	// receive path); heardSeen is its value at the last evaluation and
	// quietTicks the evaluations since it last moved.
	heard      atomic.Uint64
	heardSeen  uint64
	quietTicks int
	// vetoed counts evaluations in a row where the probes said
	// unreachable and the totem traffic said otherwise.
	vetoed int
}

type linkState struct {
	addr     netip.AddrPort
	sent     uint64
	evidence uint64 // merged Answers + Probes at the last evaluation
	silent   int    // evaluations in a row without a new answer or probe
	rec      Record
	hist     [lossWindow][2]uint64 // (sent, answers) per evaluation
	histLen  int
}

// Open binds the sockets, tries to load the XDP responder and starts the
// userspace readers. The returned engine runs the userspace path when BPF
// is not available; Mode says which, and why.
func Open(cfg Config) (*Engine, error) {
	if cfg.NodeID == 0 || cfg.Port == 0 || len(cfg.Links) == 0 {
		return nil, errors.New("heartbeat: need a nodeid, a port and at least one link")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Misses <= 0 {
		cfg.Misses = DefaultMisses
	}
	cfg.Grace = clampGrace(cfg.Grace, cfg.Interval)
	if cfg.Listen == nil {
		cfg.Listen = ListenUDP
	}
	if cfg.Now == nil {
		cfg.Now = Monotonic
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		cfg.Log = logrus.NewEntry(l)
	}
	e := &Engine{cfg: cfg, user: newUserTable(uint64(cfg.Grace)), peers: map[uint32]*peerState{}, krecs: map[Key]Record{}}
	for _, l := range cfg.Links {
		c, err := cfg.Listen(netip.AddrPortFrom(l.Local, cfg.Port))
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("heartbeat: link %d: %w", l.Number, err)
		}
		e.conns = append(e.conns, c)
		for _, p := range l.Peers {
			if p.NodeID == cfg.NodeID || p.NodeID == 0 {
				continue
			}
			ps := e.peers[p.NodeID]
			if ps == nil {
				ps = &peerState{links: map[uint32]*linkState{}}
				e.peers[p.NodeID] = ps
				e.order = append(e.order, p.NodeID)
			}
			ps.links[uint32(l.Number)] = &linkState{addr: netip.AddrPortFrom(p.Addr, cfg.Port)}
		}
	}
	slices.Sort(e.order)
	e.assign()
	var why []string
	if !cfg.NoBPF {
		k, err := openKernel(cfg)
		if err != nil {
			why = append(why, "BPF unavailable: "+err.Error())
		} else {
			e.kernel = k
			e.mode = k.Mode()
		}
	}
	if e.kernel == nil {
		// Under mu: a responder that dies at once has its supervisor
		// call childExited, which must see what openChild set.
		e.mu.Lock()
		e.mode = e.openChild(why)
		e.mu.Unlock()
	}
	if e.child == nil {
		e.startReaders()
	}
	return e, nil
}

// openChild starts the responder process and returns the mode line. A
// binary that cannot run it (no ResponderMain hook, memory sockets of
// tests) answers in the daemon, as before, and says so.
func (e *Engine) openChild(why []string) string {
	c, err := startChild(e.cfg, e.conns, e.childExited)
	switch {
	case err == nil:
		e.kernel, e.child, e.why = c, c, why
		return "" // Mode follows the process (restarts change its pid)
	case hooked.Load():
		why = append([]string{"in the daemon: responder process failed: " + err.Error()}, why...)
	}
	return userspaceMode(why)
}

func userspaceMode(why []string) string {
	if len(why) == 0 {
		return "userspace"
	}
	return "userspace (" + strings.Join(why, "; ") + ")"
}

// childExited falls back to answering in the daemon when the responder
// process died under a running engine and could not be started again:
// the records it left stay readable and the readers' add to them.
func (e *Engine) childExited(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.cfg.Log.WithError(err).Error("heartbeat: the responder process exited and is not restarted; answering in the daemon from now on")
	e.childGone = true
	e.mode = userspaceMode(append([]string{"in the daemon: responder process gave up: " + err.Error()}, e.why...))
	e.startReaders()
}

func (e *Engine) startReaders() {
	for i, c := range e.conns {
		e.wg.Add(1)
		go e.read(c, e.cfg.Links[i].Number)
	}
}

// Mode says which responder runs: for the start-up log line and
// runtime.heartbeat.mode, which the daemon refreshes, since a restarted
// responder process has a new pid and one that is given up on leaves
// the answering to the daemon. Safe from any goroutine.
func (e *Engine) Mode() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.child != nil && !e.childGone {
		m := e.child.Mode()
		if len(e.why) > 0 {
			m = m[:len(m)-1] + "; " + strings.Join(e.why, "; ") + ")"
		}
		return m
	}
	return e.mode
}

// Kernel reports whether the XDP responder runs.
func (e *Engine) Kernel() bool { return e.kernel != nil && e.child == nil }

// Interval is the probe interval in use.
func (e *Engine) Interval() time.Duration { return e.cfg.Interval }

// Close stops the readers and detaches the XDP program.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	if e.child != nil {
		// Before the sockets: the readers that childExited may have
		// started are then all counted in wg.
		e.child.Close()
		e.mu.Lock()
		e.kernel, e.child = nil, nil
		e.mu.Unlock()
	}
	for _, c := range e.conns {
		c.Close()
	}
	e.wg.Wait()
	if e.kernel != nil {
		e.kernel.Close()
		e.kernel = nil
	}
	return nil
}

// read is the userspace responder of one link: it answers probes while
// the stamp is fresh and records answers. With XDP loaded it only sees
// what the program let through.
func (e *Engine) read(c Conn, link uint8) {
	defer e.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		e.handle(c, link, buf[:n], from)
		e.handled.Add(1)
	}
}

func (e *Engine) handle(c Conn, link uint8, b []byte, from netip.AddrPort) {
	p, err := Parse(b)
	if err != nil || p.To != e.cfg.NodeID || p.Link != link {
		return
	}
	now := e.cfg.Now()
	k := Key{Node: p.From, Link: uint32(p.Link)}
	switch p.Type {
	case TypeProbe:
		if e.user.probe(k, now) {
			_ = c.WriteTo(p.Answer(e.cfg.NodeID, 0).Append(make([]byte, 0, PacketLen)), from)
		}
	case TypeAnswer:
		e.user.answer(k, now, p.Stamp)
	}
}

// Stamp refreshes the liveness stamp the responders check. The daemon
// calls it from its event loop, on every turn: a loop that stops turning
// stops the answers once Grace has passed. The kernel map is written at
// most twice per Interval.
func (e *Engine) Stamp() {
	now := e.cfg.Now()
	e.user.stamp.Store(now)
	if e.kernel == nil || now-e.kernelStamp.Load() < uint64(e.cfg.Interval/2) {
		return
	}
	if err := e.kernel.Stamp(now, e.user.grace.Load()); err != nil {
		e.cfg.Log.WithError(err).Warn("heartbeat: cannot refresh the liveness stamp")
		return
	}
	e.kernelStamp.Store(now)
}

// clampGrace keeps a healthy daemon from ever looking stale between two
// stamps.
func clampGrace(g, interval time.Duration) time.Duration {
	return max(g, 3*interval)
}

// SetGrace changes how long the responders answer after the last stamp:
// a configuration reload that changes the token timeout calls it, so that
// a stall the token tolerates stays tolerated (and a shorter token is not
// outlived by the answers). The kernel map takes it with the next stamp,
// within half an interval. Safe from any goroutine.
func (e *Engine) SetGrace(g time.Duration) {
	e.user.grace.Store(uint64(clampGrace(g, e.cfg.Interval)))
	e.kernelStamp.Store(0) // the next Stamp writes the map
}

// Grace is the grace in use.
func (e *Engine) Grace() time.Duration { return time.Duration(e.user.grace.Load()) }

// Tick is called every Interval (by one goroutine): it evaluates the
// answers since the previous tick and sends the next probes. It returns
// the peers that just became unreachable on every link.
func (e *Engine) Tick() (unreachable []uint32) {
	now := e.cfg.Now()
	if e.kernel != nil {
		clear(e.krecs)
		if err := e.kernel.Dump(e.krecs); err != nil {
			e.cfg.Log.WithError(err).Warn("heartbeat: cannot read the kernel's records")
		}
	}
	circle := false
	for i, id := range e.order {
		ps := e.peers[id]
		if e.evaluate(id, ps, now) {
			unreachable = append(unreachable, id)
		}
		if on := ps.onCircle(); on != e.circle[i] {
			e.circle[i], circle = on, true
		}
	}
	if circle {
		e.assign()
	}
	e.probe(now)
	return unreachable
}

// SetWide switches between watching the neighbours (false, the steady
// state) and probing and judging every peer (true). The daemon turns it
// on while a membership change is under way: after a partition the
// first reports name only the nodes their watchers lost, and the
// consensus needs every lost node in the failed list, so every node then
// checks every peer itself, and within Misses intervals. Safe from any
// goroutine.
func (e *Engine) SetWide(on bool) { e.wide.Store(on) }

func (e *Engine) evaluate(id uint32, ps *peerState, now uint64) bool {
	if h := ps.heard.Load(); h != ps.heardSeen {
		ps.heardSeen, ps.quietTicks = h, 0
	} else {
		ps.quietTicks++
	}
	down := 0
	judged := ps.watched || ps.unreachable || e.wide.Load()
	for link, ls := range ps.links {
		k := Key{Node: id, Link: link}
		rec := e.user.lookup(k).merge(e.krecs[k])
		ls.rec = rec
		if ev := rec.Answers + rec.Probes; ev > ls.evidence {
			ls.evidence = ev
			ls.silent = 0
			ps.ringfenced = true
		} else if !judged {
			ls.silent = 0 // only slow probes: silence says nothing
		} else if ls.sent > 0 || ps.ringfenced {
			ls.silent++
		}
		copy(ls.hist[1:], ls.hist[:lossWindow-1])
		ls.hist[0] = [2]uint64{ls.sent, rec.Answers}
		if ls.histLen < lossWindow {
			ls.histLen++
		}
		if ls.silent >= e.cfg.Misses {
			down++
		}
	}
	if !ps.ringfenced {
		return false
	}
	if ps.unreachable && ps.quietTicks == 0 {
		// Its totem traffic arrives again: it is reachable, whether or
		// not it answers probes (a node restarted without the
		// heartbeat, Corosync in a rolling migration, must not stay
		// "unreachable", which keeps our multicasts from it).
		ps.unreachable = false
		ps.down.Store(false)
		e.cfg.Log.Infof("heartbeat: node %d is heard again (totem)", id)
		return false
	}
	if down < len(ps.links) {
		ps.vetoed = 0
		if ps.unreachable {
			ps.unreachable = false
			ps.down.Store(false)
			e.cfg.Log.Infof("heartbeat: node %d answers again", id)
		}
		return false
	}
	if ps.unreachable {
		return false
	}
	if ps.quietTicks < e.cfg.Misses-1 {
		// Its totem messages still arrive: the daemon runs and the
		// path works, whatever the probes say. A node restarted within
		// the miss window (its join comes before its first answer) is
		// not thrown out again, and a blocked heartbeat port does not
		// break a healthy ring. A peer that really died went quiet on
		// both at once, and Misses-1 intervals of quiet never delay
		// its report.
		ps.vetoed++
		if ps.vetoed == vetoWarnAfter {
			e.cfg.Log.Warnf("heartbeat: node %d has answered no probe on port %d for %v, yet its totem messages arrive; "+
				"not reporting it (is the heartbeat port blocked between the nodes?)", id, e.cfg.Port, time.Duration(ps.vetoed+e.cfg.Misses)*e.cfg.Interval)
		}
		return false
	}
	ps.unreachable = true
	ps.down.Store(true)
	return true
}

// vetoWarnAfter: evaluations in a row that the totem traffic overruled
// before the engine says so. A restart overrules a few; a firewall that
// drops the probes overrules them all.
const vetoWarnAfter = 20

// Heard tells the engine that a totem datagram came from peer id: the
// daemon's receive path calls it for every datagram with a known sender.
// Safe from any goroutine; an unknown id is ignored.
func (e *Engine) Heard(id uint32) {
	if ps := e.peers[id]; ps != nil {
		ps.heard.Add(1)
	}
}

// Unreachable reports whether peer id is still unreachable on every link
// (safe from any goroutine). A report that waited in a busy daemon's
// queue while the peer came back must not remove it.
func (e *Engine) Unreachable(id uint32) bool {
	ps := e.peers[id]
	return ps != nil && ps.down.Load()
}

// onCircle: the peer runs the heartbeat, or may still turn out to (its
// discovery probes are not all out). A peer that stayed silent through
// discovery (Corosync in a mixed ring, or a node that was down) leaves
// the circle, so that its neighbours watch the nearest ringfenced nodes
// instead of nobody; it comes back the moment it answers or probes.
func (ps *peerState) onCircle() bool {
	if ps.ringfenced {
		return true
	}
	for _, ls := range ps.links {
		if ls.sent < discoverProbes {
			return true
		}
	}
	return false
}

// assign picks the peers this node watches and probes every interval,
// with this node and the peers on the circle (onCircle) in nodeid order.
// Up to 2*Watchers+1 of them every pair is watched and each node probes
// the next half, so every pair has one prober. In larger rings each node
// probes its Watchers successors and watches them and its Watchers
// predecessors (who probe it). Every node computes the same circle from
// the nodelist and what discovery found, so once discovery is over both
// sides of a pair agree without asking each other; until then a pair
// the two sides see differently is still covered, since a side whose
// evidence stops probes itself. Tick calls it again when the circle
// changes.
func (e *Engine) assign() {
	all := []uint32{e.cfg.NodeID}
	for _, id := range e.order {
		if e.peers[id].onCircle() {
			all = append(all, id)
		}
	}
	slices.Sort(all)
	n := len(all)
	self := slices.Index(all, e.cfg.NodeID)
	e.circle = e.circle[:0]
	for i, id := range e.order {
		ps := e.peers[id]
		ps.slot = i % slowEvery
		at := slices.Index(all, id)
		e.circle = append(e.circle, at >= 0)
		if at < 0 {
			ps.assigned, ps.watched = false, false
			continue
		}
		d := (at - self + n) % n
		if n-1 <= 2*Watchers {
			ps.watched = true
			ps.assigned = d <= (n-1)/2 || (n%2 == 0 && d == n/2 && e.cfg.NodeID < id)
			continue
		}
		ps.assigned = d <= Watchers
		ps.watched = d <= Watchers || n-d <= Watchers
	}
}

// probe sends this interval's probes: to assigned peers, to any peer
// whose evidence stopped (its probes may have stopped because its daemon
// stalls while its kernel still answers: ask it), and now and then to the
// others. A node whose own stamp is stale sends nothing: a probe is
// evidence of life too.
func (e *Engine) probe(now uint64) {
	e.seq++
	if !fresh(now, e.user.stamp.Load(), e.user.grace.Load()) {
		return
	}
	wide := e.wide.Load()
	for i, l := range e.cfg.Links {
		e.bufs, e.dsts, e.dstLinks = e.bufs[:0], e.dsts[:0], e.dstLinks[:0]
		for _, id := range e.order {
			ps := e.peers[id]
			ls := ps.links[uint32(l.Number)]
			if ls == nil {
				continue
			}
			discovering := !ps.ringfenced && ls.sent < discoverProbes
			if !(ps.assigned || ls.silent > 0 || wide || discovering || int(e.seq%slowEvery) == ps.slot) {
				continue
			}
			p := Packet{Type: TypeProbe, Link: l.Number, From: e.cfg.NodeID, To: id, Seq: e.seq, Stamp: now}
			k := len(e.bufs)
			if k == cap(e.bufs) {
				e.bufs = append(e.bufs, make([]byte, 0, PacketLen))
			} else {
				e.bufs = e.bufs[:k+1]
			}
			e.bufs[k] = p.Append(e.bufs[k][:0])
			e.dsts = append(e.dsts, ls.addr)
			e.dstLinks = append(e.dstLinks, ls)
		}
		e.oks = slices.Grow(e.oks[:0], len(e.bufs))[:len(e.bufs)]
		clear(e.oks)
		if bw, ok := e.conns[i].(batchWriter); ok {
			bw.WriteBatch(e.bufs, e.dsts, e.oks)
		} else {
			for j := range e.bufs {
				e.oks[j] = e.conns[i].WriteTo(e.bufs[j], e.dsts[j]) == nil
			}
		}
		for j, ok := range e.oks {
			if ok {
				e.dstLinks[j].sent++
			}
		}
	}
}

// LinkStatus is one peer on one link, as netmon and cmap show it.
type LinkStatus struct {
	Node      uint32
	Link      uint32
	Addr      netip.Addr
	RTT       time.Duration // last answer's round trip
	Loss      float64       // share of the probes of the last lossWindow intervals left unanswered
	LastSeen  time.Duration // since the last probe or answer from the peer; -1 never
	Sent      uint64
	Answers   uint64
	Probes    uint64 // probes received from the peer
	Replied   uint64 // of those, answered
	Reachable bool   // answering (or never ringfenced: not judged)
	Fenced    bool   // the peer has answered at least once
}

// Links returns the figures of every peer and link, sorted.
func (e *Engine) Links() []LinkStatus {
	now := e.cfg.Now()
	var out []LinkStatus
	for _, id := range e.order {
		ps := e.peers[id]
		for link, ls := range ps.links {
			r := ls.rec
			st := LinkStatus{Node: id, Link: link, Addr: ls.addr.Addr(), RTT: time.Duration(r.RTT), Sent: ls.sent,
				Answers: r.Answers, Probes: r.Probes, Replied: r.Replied, Fenced: ps.ringfenced,
				Reachable: ls.silent < e.cfg.Misses, LastSeen: -1}
			if last := max(r.LastAnswer, r.LastProbe); last != 0 && last <= now {
				st.LastSeen = time.Duration(now - last)
			}
			if !ps.watched && !ps.unreachable && ps.ringfenced {
				// Probed once every slowEvery intervals only.
				st.Reachable = st.LastSeen >= 0 && st.LastSeen < time.Duration(slowEvery+e.cfg.Misses)*e.cfg.Interval
			}
			if ls.histLen >= 2 {
				newest, oldest := ls.hist[0], ls.hist[ls.histLen-1]
				// Probes sent before the oldest evaluation have had their
				// answer counted by the newest one.
				if sent := newest[0] - oldest[0]; sent > 0 {
					got := newest[1] - oldest[1]
					st.Loss = max(0, 1-float64(got)/float64(sent))
				}
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b LinkStatus) int {
		if a.Node != b.Node {
			return int(a.Node) - int(b.Node)
		}
		return int(a.Link) - int(b.Link)
	})
	return out
}
