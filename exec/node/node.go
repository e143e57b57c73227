package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/cpg"
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
	"github.com/ringfence/ringfence/totem/pg"
	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/transport"
	"github.com/ringfence/ringfence/totem/wire"
	"github.com/ringfence/ringfence/votequorum/vqipc"
)

// Options configures a Node.
type Options struct {
	// Config is the accepted corosync.conf.
	Config *coroconf.Config
	// Logger receives every log line; nil builds one from the logging
	// section (writing to Stderr when to_stderr is on).
	Logger *logrus.Logger
	Stderr io.Writer
	// StateDir overrides system.state_dir (tests).
	StateDir string
	// IPCPrefix is put in front of every IPC service name, so that several
	// nodes share one network namespace in tests. Empty for the daemon.
	IPCPrefix string
	// NoIPC runs without IPC services.
	NoIPC bool
	// IPCConfig tunes the IPC server (Authorize and Log are filled in).
	IPCConfig ipc.Config
	// PidFile is locked at start when set (the daemon uses DefaultPidFile).
	PidFile string
	// Transport replaces the UDP sockets (tests with a memory network).
	Transport transport.Transport
	// AppGroup and OnAppMessage give tests and tools a totempg group of
	// their own: messages sent with Multicast arrive at OnAppMessage on
	// every member, in agreed order, on the owner goroutine.
	AppGroup     string
	OnAppMessage func(from uint32, payload []byte)
	// Version is printed in the start-up line.
	Version string
}

// Status is a snapshot of the node's view, safe to read from any
// goroutine.
type Status struct {
	State   srp.State
	RingID  wire.RingID
	Members []uint32 // the last REGULAR configuration
	Synced  bool     // the sync of that configuration completed
	// Changes counts REGULAR configurations installed so far.
	Changes int
}

// Node is one running cluster node.
type Node struct {
	opts     Options
	settings Settings
	log      *logrus.Logger
	logClose io.Closer

	tr     transport.Transport
	srp    *srp.Node
	packer *pg.Packer
	asm    *pg.Assembler
	disp   pg.Dispatcher
	engine *exec.Engine
	cmapS  *exec.CmapSync
	cpgSvc *cpg.Service
	cpgH   *cpgipc.Handler // owns cpgSvc.Ready()
	cfgH   *cfgipc.Handler
	vote   *voteService // nil unless quorum.provider is corosync_votequorum
	qsync  *exec.QuorumSync
	store  *cmap.Store
	stats  *cmap.Store
	ipcSrv *ipc.Server
	pid    *PidFile
	// srpBase is where srp's counters stood at the last stats clear.
	srpBase srp.Stats
	// ext holds the counters Corosync has no key for (extstats.go).
	ext extCounters
	// Token averages and multicast failures for stats.srp (srpstats.go).
	tokenMeans    tokenMeans
	tokenRxAt     time.Duration // when the token being handled arrived
	mcastFailures uint32
	forceGather   *cmap.Tracker // runtime.force_gather (forcegather.go)
	sched         schedWatch    // scheduling pauses (schedmiss.go)
	mon           *monitor      // resources.system.* (mon.go)
	hb            *hbState      // nil when the heartbeat is off (heartbeat.go)

	start time.Time
	timer *time.Timer
	calls chan func()
	ready bool // first sync completed: IPC is open
	msgs  []pg.Message
	// rxMcast and rxToken are decode's reusable messages.
	rxMcast wire.Mcast
	rxToken wire.OrfToken
	// mcastBatch is carryOut's reusable list of encoded multicasts.
	mcastBatch [][]byte
	// out and outBuf are sendVisit's reusable datagram list and the
	// buffer the datagrams are encoded into.
	out    []transport.Outgoing
	outBuf []byte
	// heldApp and heldIPC park application traffic and CPG requests
	// while a sync runs (flowcontrol.go).
	heldApp  []exec.Message
	heldIPC  []ipc.Delivery
	failure  error
	lastConf []uint32
	// installedRing is set once the first REGULAR configuration is in.
	installedRing bool
	// shutdown is set when corosync-cfgtool -H (an agreed TRYSHUTDOWN)
	// asks the node to leave; shutdownSince times the wait for answers.
	shutdown      bool
	shutdownSince time.Time

	// owner serialises the protocol state between the loop and a direct
	// receiver's reader goroutine (receive.go); exited is set under it
	// when Run returns.
	owner   sync.Mutex
	exited  bool
	wake    chan struct{} // the reader asks the loop to look again
	loopIPC bool          // the loop's wait includes IPC requests

	mu     sync.Mutex
	status Status
	notify chan struct{}
}

// New builds a node: it parses the settings, takes the pid lock, binds the
// transport and loads the ring sequence. Nothing runs until Run.
func New(opts Options) (n *Node, err error) {
	if opts.Config == nil {
		return nil, errors.New("node: no configuration")
	}
	settings, err := SettingsFromConfig(opts.Config)
	if err != nil {
		return nil, err
	}
	if opts.StateDir != "" {
		settings.StateDir = opts.StateDir
	}
	n = &Node{opts: opts, settings: settings, calls: make(chan func(), 64), notify: make(chan struct{})}
	// The returns below set n to nil; release what was opened through a
	// copy of the pointer.
	built := n
	defer func() {
		if err != nil {
			built.closeAll()
		}
	}()
	n.log = opts.Logger
	if n.log == nil {
		stderr := opts.Stderr
		if stderr == nil {
			stderr = os.Stderr
		}
		// The standard logger, so that packages logging through it (the
		// quorum IPC layer) share the format and outputs.
		if n.log, n.logClose, err = ConfigureLogger(logrus.StandardLogger(), settings.Logging, stderr); err != nil {
			return nil, err
		}
	}
	if opts.PidFile != "" {
		if n.pid, err = LockPidFile(opts.PidFile); err != nil {
			return nil, err
		}
	}
	n.store = opts.Config.Store()
	n.stats = cmap.New()
	local, _ := settings.Local()

	n.tr = opts.Transport
	if n.tr == nil {
		if n.tr, err = n.openTransport(local); err != nil {
			return nil, err
		}
	}
	n.start = time.Now()
	n.srp, err = srp.New(srp.Config{NodeID: settings.NodeID, Nodes: settings.NodeIDs(), Timing: settings.Timing}, newFileRingSeq(settings.StateDir, settings.NodeID))
	if err != nil {
		return nil, err
	}
	if err = n.openHeartbeat(); err != nil {
		return nil, err
	}
	if n.packer, err = pg.NewPacker(pg.TotemMTU(settings.NetMTU)); err != nil {
		return nil, err
	}
	n.asm = pg.NewAssembler(0)

	n.engine = exec.NewEngine(settings.NodeID)
	n.cmapS = exec.NewCmapSync(settings.NodeID, n.store)
	n.cpgSvc = cpg.New(settings.NodeID)
	n.qsync = exec.NewQuorumSync()
	services := []exec.Service{n.cmapS, n.cpgSvc, n.qsync, monService{}}
	if vc, ok := voteConfig(opts.Config, settings); ok {
		if n.vote, err = newVoteService(vc, n.log, n.store); err != nil {
			return nil, fmt.Errorf("votequorum: %w", err)
		}
		services = append(services, n.vote)
	}
	for _, s := range services {
		if err = n.engine.Register(s); err != nil {
			return nil, err
		}
	}
	n.engine.SetMemberStore(n.store, n.ifaces)
	n.cpgH = cpgipc.New(n.cpgSvc, func(msgs ...exec.Message) { n.engine.Send(msgs...) })
	n.cfgH = cfgipc.New(n.cfgConfig(cfgipc.Config{
		NodeID:   settings.NodeID,
		Store:    n.store,
		Members:  func() []uint32 { return n.srp.Members() },
		NetMTU:   uint32(pg.TotemMTU(settings.NetMTU)),
		Send:     n.engine.Send,
		Shutdown: func(uint32) { n.shutdown = true },
	}))
	if err = n.engine.Register(n.cfgH); err != nil {
		return nil, err
	}
	publishServiceList(n.store, n.engine)
	n.disp.Join(func(node uint32, p []byte, swapped bool) {
		if err := n.engine.DeliverServices(node, p, swapped); err != nil {
			n.log.WithField("subsys", SubsysMain).WithError(err).Debug("exec message dropped")
		}
	}, pg.GroupServices)
	n.disp.Join(func(node uint32, p []byte, swapped bool) {
		if err := n.engine.DeliverSync(node, p, swapped); err != nil {
			n.log.WithField("subsys", "SYNC").WithError(err).Debug("sync message ignored")
		}
	}, pg.GroupSync)
	if opts.AppGroup != "" && opts.OnAppMessage != nil {
		n.disp.Join(func(node uint32, p []byte, _ bool) { opts.OnAppMessage(node, p) }, opts.AppGroup)
	}

	if !opts.NoIPC {
		cfg := opts.IPCConfig
		cfg.Authorize = cmapsvc.Authorizer(n.store)
		if cfg.Log == nil {
			cfg.Log = n.log.WithField("subsys", "IPC")
		}
		n.ipcSrv = ipc.NewServer(cfg)
		cmapSvc := cmapsvc.New(n.store, n.stats)
		cmapSvc.RefreshStats = n.publishStats
		cmapSvc.ClearStats = n.clearStats
		svcs := []*ipc.Service{cmapSvc.IPCService(), n.cpgH.IPCService(), n.cfgH.IPCService()}
		if n.vote != nil {
			svcs = append(svcs, n.vote.ipc.Quorum.IPCService(), n.vote.ipc.Votequorum.IPCService())
		} else {
			svcs = append(svcs, vqipc.NewQuorum(false).IPCService())
		}
		for _, s := range svcs {
			svc := *s
			svc.Name = opts.IPCPrefix + svc.Name
			if err = n.ipcSrv.Serve(&svc); err != nil {
				return nil, fmt.Errorf("cannot serve IPC %q: %w", svc.Name, err)
			}
		}
	}
	n.startForceGather()
	n.mon = newMonitor(n.store, n.log.WithField("subsys", "MON"))
	n.status.State = n.srp.State()
	return n, nil
}

func (n *Node) openTransport(local transport.Member) (transport.Transport, error) {
	tlog := n.log.WithField("subsys", SubsysTotem)
	switch n.settings.Transport {
	case coroconf.TransportUDP:
		tlog.Info("Initializing transport (UDP/IP Multicast).")
		u, err := transport.NewUDP(transport.UDPConfig{
			Local: local.Addr, Group: n.settings.McastAddr, Port: n.settings.Port, TTL: n.settings.TTL,
			Members: n.settings.Members, NetMTU: n.settings.NetMTU, Log: tlog,
		})
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return u, nil
	default:
		tlog.Info("Initializing transport (UDP/IP Unicast).")
		u, err := transport.NewUDPU(transport.UDPUConfig{
			Local: local.Addr, Port: n.settings.Port, Members: n.settings.Members,
			NetMTU: n.settings.NetMTU, AllowUnlisted: n.settings.AllowUnlisted, Log: tlog,
		})
		if err != nil {
			return nil, err
		}
		return u, nil
	}
}

// ifaces renders a node's addresses as totem_ifaces_print does.
func (n *Node) ifaces(id uint32) string {
	for _, m := range n.settings.Members {
		if m.NodeID == id {
			return fmt.Sprintf("r(0) ip(%s) ", m.Addr)
		}
	}
	return ""
}

// Settings returns what the node took from its configuration.
func (n *Node) Settings() Settings { return n.settings }

// Logger returns the node's logger.
func (n *Node) Logger() *logrus.Logger { return n.log }

// Status returns a snapshot of the node's membership view.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.status
	s.Members = slices.Clone(s.Members)
	return s
}

// Changed returns a channel closed at the next status change.
func (n *Node) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.notify
}

func (n *Node) setStatus(f func(s *Status)) {
	n.mu.Lock()
	f(&n.status)
	close(n.notify)
	n.notify = make(chan struct{})
	n.mu.Unlock()
}

// Do runs f on the owner goroutine and waits for it. It fails once the
// node stopped.
func (n *Node) Do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case n.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Multicast sends payload to AppGroup on every member, in agreed order.
func (n *Node) Multicast(ctx context.Context, payload []byte) error {
	if n.opts.AppGroup == "" {
		return errors.New("node: no AppGroup configured")
	}
	var err error
	if derr := n.Do(ctx, func() { err = n.sendApp(exec.Message{Group: n.opts.AppGroup, Iov: [][]byte{payload}}) }); derr != nil {
		return derr
	}
	return err
}

// Store returns the main cmap store; touch it only inside Do.
func (n *Node) Store() *cmap.Store { return n.store }

func (n *Node) now() time.Duration { return time.Since(n.start) }

// Run serves until ctx ends, then leaves the ring cleanly. It returns nil
// after a clean leave and an error when the node had to stop (the
// transport died, or cmap found a config_version mismatch).
func (n *Node) Run(ctx context.Context) error {
	defer n.closeAll()
	mainLog := n.log.WithField("subsys", SubsysMain)
	local, _ := n.settings.Local()
	for _, l := range tokenTimingLines(n.settings.Timing) {
		n.log.WithField("subsys", SubsysTotem).Debug(l)
	}
	n.log.WithField("subsys", SubsysTotem).Infof("The network interface [%s] is now up.", local.Addr)
	mainLog.Infof("Ringfence cluster engine ('%s', Corosync %s compatible): started and ready to provide service.", n.opts.Version, "3.1.7")

	n.timer = time.NewTimer(time.Hour)
	n.timer.Stop()
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	recv := n.tr.Recv()

	// The loop owns the protocol state except while it waits; a direct
	// receiver's reader goroutine takes it in between (receive.go). Run
	// returns with exited set, before closeAll closes the transport and
	// waits for that reader.
	n.owner.Lock()
	defer func() {
		n.exited = true
		n.owner.Unlock()
	}()
	n.startDirectReceive()
	n.srp.Tick(n.now())
	n.pump()
	for {
		ipcCh := n.ipcSource()
		n.loopIPC = ipcCh != nil
		n.owner.Unlock()
		var (
			ev   loopEvent
			dg   transport.Datagram
			ok   bool
			d    ipc.Delivery
			f    func()
			hbEv hbEvent
		)
		select {
		case <-ctx.Done():
			ev = evDone
		case dg, ok = <-recv:
			ev = evRecv
		case <-n.timer.C:
		case d = <-ipcCh:
			ev = evIPC
		case f = <-n.calls:
			ev = evCall
		case <-retry.C:
			ev = evRetry
		case hbEv = <-n.heartbeatC():
			ev = evHeartbeat
		case <-stats.C:
			ev = evStats
		case <-n.wake:
		}
		n.owner.Lock()
		switch ev {
		case evDone:
			mainLog.Info("Node was shut down by a signal")
			n.leave()
			mainLog.Info("Corosync Cluster Engine exiting normally")
			return nil
		case evRecv:
			if !ok {
				return errors.New("the transport closed its receive channel")
			}
			n.srp.Tick(n.now())
			n.receive(dg)
			// Take whatever else is already queued before carrying out
			// the output: one Ready for a burst of datagrams.
			n.drainRecv(64)
		case evIPC:
			n.dispatchIPC(d)
			n.pollForceGather()
		case evCall:
			f()
		case evRetry:
			n.schedCheck()
			n.mon.tick(time.Now())
		case evHeartbeat:
			n.heartbeatEvent(hbEv)
		case evStats:
			n.publishStats()
		}
		n.settle()
		if n.shutdown {
			mainLog.Info("Node was shut down by a cfg request")
			n.leave()
			mainLog.Info("Corosync Cluster Engine exiting normally")
			return nil
		}
		if n.failure != nil {
			// A killed node exits at once, as Corosync does (no leave).
			if _, killed := n.failure.(*KilledError); !killed {
				n.leave()
			}
			return n.failure
		}
	}
}

// settle runs the state machines after an input until they are quiet,
// and keeps the timers that watch the loop up to date.
func (n *Node) settle() {
	n.srp.Tick(n.now())
	n.pump()
	n.heartbeatStamp()
	if n.cfgH.ShutdownPending() {
		if n.shutdownSince.IsZero() {
			n.shutdownSince = time.Now()
		} else if time.Since(n.shutdownSince) > 5*time.Second {
			n.cfgH.ExpireShutdown() // cfg.shutdown_timeout's default
		}
	} else {
		n.shutdownSince = time.Time{}
	}
}

func (n *Node) receive(dg transport.Datagram) {
	m, err := n.decode(dg.Data)
	if err != nil {
		n.undecodable(dg, err)
		return
	}
	from := dg.FromNode
	if from == 0 {
		from = m.Hdr().NodeID
	} else if n.hb != nil {
		n.hb.eng.Heard(from) // evidence of life the probes may lack
	}
	if m == wire.Message(&n.rxToken) {
		n.tokenRxAt = n.now()
		n.flushForToken()
	}
	n.srp.Step(from, m)
}

// decode parses a datagram. The two kinds a busy ring is made of are
// decoded without allocating: into structs reused across datagrams, the
// multicast's payload left in b. That is safe because srp keeps neither:
// it copies a multicast's payload into its queue and clones the token.
func (n *Node) decode(b []byte) (wire.Message, error) {
	h, err := wire.DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	switch h.Type {
	case wire.TypeMcast:
		if err := wire.DecodeMcastView(b, &n.rxMcast); err != nil {
			return nil, err
		}
		return &n.rxMcast, nil
	case wire.TypeOrfToken:
		if err := wire.DecodeOrfTokenInto(b, &n.rxToken); err != nil {
			return nil, err
		}
		return &n.rxToken, nil
	}
	return wire.Decode(b)
}

// pump carries out everything the state machines produced until they are
// quiet, then re-arms the timer.
func (n *Node) pump() {
	for range 1000 {
		progressed := false
		if n.srp.HasReady() {
			rd := n.srp.Ready()
			n.srp.Advance()
			n.carryOut(rd)
			if rd.TokenVisit {
				// The visit ends once its token is sent and its
				// messages delivered (avg_token_workload).
				n.srp.TokenSent(n.tokenRxAt, n.now())
			}
			progressed = true
		}
		if n.engine.Pending() {
			n.engine.Process()
		}
		if n.drainServices() {
			progressed = true
		}
		if !progressed {
			break
		}
	}
	n.armTimer(n.srp.Ready().Deadline)
}

func (n *Node) armTimer(deadline time.Duration) {
	if deadline == 0 {
		n.timer.Stop()
		return
	}
	d := deadline - n.now()
	if d < 0 {
		d = 0
	}
	n.timer.Reset(d)
}

func (n *Node) carryOut(rd srp.Ready) {
	tlog := n.log.WithField("subsys", SubsysTotem)
	if bs, ok := n.tr.(transport.BatchSender); ok {
		n.sendVisit(bs, rd.Packets, tlog)
		n.afterSend(rd, tlog)
		return
	}
	// Consecutive multicasts (a token visit's worth) leave together when
	// the transport can batch them; a token still goes after them.
	bm, _ := n.tr.(transport.BatchMulticaster)
	batch := n.mcastBatch[:0]
	sendBatch := func() {
		if len(batch) > 0 {
			err := bm.MulticastBatch(batch)
			n.mcastSent(err)
			if err != nil {
				tlog.WithError(err).Debug("send failed")
			}
			clear(batch)
			batch = batch[:0]
		}
	}
	for _, p := range rd.Packets {
		b, err := wire.Encode(p.Msg)
		if err != nil {
			tlog.WithError(err).Error("cannot encode a totem message")
			continue
		}
		if p.To == 0 && bm != nil {
			batch = append(batch, b)
			continue
		}
		sendBatch()
		if p.To == 0 {
			err = n.tr.Multicast(b)
			n.mcastSent(err)
		} else {
			err = n.tr.SendToken(p.To, b)
		}
		if err != nil {
			tlog.WithError(err).Debug("send failed")
		}
	}
	sendBatch()
	n.mcastBatch = batch
	n.afterSend(rd, tlog)
}

// sendVisit encodes every packet into one reused buffer and sends them
// all, in order, with one SendBatch: a token visit's multicasts and the
// token in (usually) one system call, without allocating per datagram.
func (n *Node) sendVisit(bs transport.BatchSender, pkts []srp.Packet, tlog logrus.FieldLogger) {
	if len(pkts) == 0 {
		return
	}
	out, buf := n.out[:0], n.outBuf[:0]
	mcasts := false
	for _, p := range pkts {
		start := len(buf)
		b, err := wire.AppendEncode(buf, p.Msg)
		if err != nil {
			tlog.WithError(err).Error("cannot encode a totem message")
			continue
		}
		// When append grew the buffer, earlier datagrams stay in the old
		// array, which they keep alive until the send.
		buf = b
		out = append(out, transport.Outgoing{To: p.To, Data: buf[start:len(buf):len(buf)]})
		mcasts = mcasts || p.To == 0
	}
	err := bs.SendBatch(out)
	if mcasts {
		n.mcastSent(err)
	}
	if err != nil {
		tlog.WithError(err).Debug("send failed")
	}
	clear(out)
	n.out, n.outBuf = out[:0], buf[:0]
}

// afterSend handles what a Ready holds besides its packets.
func (n *Node) afterSend(rd srp.Ready, tlog logrus.FieldLogger) {
	for _, sc := range rd.StateChanges {
		n.stateChanged(n.log.WithFields(sc.LogFields()), sc.To)
		n.setStatus(func(s *Status) { s.State = sc.To })
	}
	for _, text := range rd.Notices {
		// The membership notice is printed by confChg, from the
		// corrected change (see there).
		if strings.HasPrefix(text, "A new membership") {
			continue
		}
		tlog.Info(text)
	}
	for _, text := range rd.Debug {
		tlog.Debug(text)
	}
	for _, ev := range rd.Events {
		switch {
		case ev.Msg != nil:
			n.deliver(ev.Msg)
		case ev.Conf != nil:
			n.confChg(ev.Conf)
		}
	}
}

func (n *Node) deliver(d *srp.Delivery) {
	var err error
	n.msgs, err = n.asm.Deliver(n.msgs[:0], d.From, d.Payload, false)
	if err != nil {
		n.log.WithField("subsys", SubsysTotem).WithError(err).Debug("totempg data dropped")
	}
	for _, m := range n.msgs {
		n.disp.Dispatch(m)
	}
	clear(n.msgs)
}

func (n *Node) confChg(c *srp.ConfChg) {
	n.flushBehindSync()
	if c.Type == srp.Regular && !n.installedRing && !slices.Contains(c.Joined, n.settings.NodeID) {
		// Corosync reports the local node as joined in the first ring it
		// installs ("Members joined: 1"), and main.c creates the local
		// runtime.members keys from that; srp counts it as a transitional
		// member of its own start-up ring instead.
		cc := *c
		cc.Joined = append(slices.Clone(c.Joined), n.settings.NodeID)
		slices.Sort(cc.Joined)
		c = &cc
	}
	kind := exec.Regular
	if c.Type == srp.Transitional {
		kind = exec.Transitional
		n.asm.NodesLeft(c.Left...)
	}
	n.engine.ConfChg(exec.ConfChg{Kind: kind, Ring: c.RingID, Members: slices.Clone(c.Members), Left: slices.Clone(c.Left), Joined: slices.Clone(c.Joined)})
	if c.Type != srp.Regular {
		n.log.WithFields(c.LogFields()).Debug("transitional configuration")
		return
	}
	// srp is operational on the new ring: what comes from now on until
	// the sync completes is new-ring traffic in the transitional phase.
	n.asm.SetPhase(pg.PhaseTransitional)
	n.installedRing = true
	n.log.WithFields(c.LogFields()).Info(c.Notice())
	n.lastConf = slices.Clone(c.Members)
	n.setStatus(func(s *Status) {
		s.RingID, s.Members, s.Synced = c.RingID, slices.Clone(c.Members), false
		s.Changes++
	})
}

func idList(ids []uint32) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, " %d", id)
	}
	return b.String()
}

// drainServices moves service output to the wire and handles the end of
// a sync. It reports whether anything happened.
func (n *Node) drainServices() bool {
	did := false
	// The cpg IPC handler takes the service's output: callbacks to its
	// clients, exec messages through engine.Send.
	n.cpgH.Flush()
	n.logLines(n.qsync.Logs())
	if changes := n.qsync.Changes(); len(changes) > 0 && n.vote != nil {
		n.vote.ipc.NodelistChanges(changes)
	}
	if n.vote != nil {
		n.vote.tick(time.Now())
		if out := n.vote.takeOut(); len(out) > 0 {
			n.engine.Send(out...)
		}
	}
	n.logLines(n.cmapS.Logs())
	er := n.engine.Ready()
	n.logLines(er.Logs)
	for i, m := range er.Messages {
		n.keepDevicePair(er.Messages, i)
		if err := n.send(m); err != nil {
			n.log.WithField("subsys", SubsysMain).WithError(err).Warn("cannot queue a message for the ring")
		}
		did = true
	}
	if er.SyncCompleted {
		n.syncCompleted()
		did = true
	}
	if n.flush() {
		did = true
	}
	return did
}

func (n *Node) logLines(lines []exec.LogLine) {
	for _, l := range lines {
		e := n.log.WithField("subsys", l.Subsys)
		switch {
		case l.Level <= exec.LevelError:
			e.Error(l.Text)
		case l.Level == exec.LevelWarning:
			e.Warn(l.Text)
		case l.Level == exec.LevelNotice:
			e.Info(l.Text)
		default:
			e.Debug(l.Text)
		}
	}
}

// send packs one message and queues the packets that are full; the rest
// waits for flush.
func (n *Node) send(m exec.Message) error {
	pkts, err := n.packer.Add(nil, pg.Agreed, []string{m.Group}, m.Iov...)
	if err != nil {
		return err
	}
	return n.broadcast(pkts)
}

// flush hands the partly filled packet to srp at the end of a loop
// round. Corosync flushes only when a valid token arrives, so a busy
// sender's small messages share packets. We flush at once while srp's
// queue is empty (the packet may be all there is to send, and its arrival
// is what makes srp ask for a held token), and otherwise keep filling it:
// flushForToken hands it over just before the next token is processed,
// which is the visit it would have left in anyway.
func (n *Node) flush() bool {
	if n.srp.QueuedInUse() > 0 {
		return false
	}
	return n.flushPartial()
}

// flushForToken runs just before srp steps a token.
func (n *Node) flushForToken() { n.flushPartial() }

// flushPartial moves the staged packet to srp unless a token visit's worth
// (max_messages) is queued already: none of it could leave before the next
// token anyway. Only the queue srp drains now counts: packets held for
// after the transitional ack would otherwise keep the sync messages staged
// here until the ack, which needs them (a sync deadlock under traffic).
func (n *Node) flushPartial() bool {
	if msgs, _ := n.packer.Pending(); msgs == 0 {
		return false
	}
	if n.srp.QueuedInUse() >= n.settings.Timing.MaxMessages {
		return false
	}
	if err := n.broadcast(n.packer.Flush(nil)); err != nil {
		n.log.WithField("subsys", SubsysTotem).WithError(err).Warn("cannot queue a packet for the ring")
	}
	return true
}

func (n *Node) broadcast(pkts []pg.Packet) error {
	for _, p := range pkts {
		if err := n.srp.Broadcast(p.Payload, srp.Guarantee(p.Guarantee)); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) syncCompleted() {
	n.flushSync()
	n.srp.TransAck()
	n.releaseHeld()
	n.asm.SetPhase(pg.PhaseRegular)
	if n.vote == nil {
		// Without votequorum nobody else prints the quorum view.
		n.log.WithField("subsys", SubsysQuorum).Infof("Members[%d]:%s", len(n.lastConf), idList(n.lastConf))
	}
	if mm := n.cmapS.Mismatch(); mm != nil {
		n.failure = mm
		return
	}
	if !n.ready {
		n.ready = true
		if n.ipcSrv != nil {
			n.ipcSrv.SetReady(true)
		}
		if err := sdNotify("READY=1"); err != nil {
			n.log.WithField("subsys", SubsysMain).WithError(err).Warn("sd_notify failed")
		}
	}
	n.setStatus(func(s *Status) { s.Synced = true })
	n.publishStats()
}

// leave multicasts the LEAVE join and lets it go out before the sockets
// close.
func (n *Node) leave() {
	_ = sdNotify("STOPPING=1")
	n.srp.Leave()
	if n.srp.HasReady() {
		rd := n.srp.Ready()
		n.srp.Advance()
		n.carryOut(rd)
	}
	n.setStatus(func(s *Status) { s.State = 0; s.Members = nil; s.Synced = false })
}

func (n *Node) closeAll() {
	n.closeHeartbeat()
	if n.ipcSrv != nil {
		n.ipcSrv.Close()
		n.ipcSrv = nil
	}
	if n.tr != nil {
		n.tr.Close()
		n.tr = nil
	}
	if n.pid != nil {
		n.pid.Release()
		n.pid = nil
	}
	if n.logClose != nil {
		n.logClose.Close()
		n.logClose = nil
	}
}

// publishStats writes a few of Corosync's stats map keys.
func (n *Node) publishStats() {
	st := n.srpStats()
	set := func(k string, v uint64) { _ = n.stats.Set("stats.srp."+k, cmap.U64(v)) }
	set("orf_token_tx", st.OrfTokenTx)
	set("orf_token_rx", st.OrfTokenRx)
	set("memb_merge_detect_tx", st.MembMergeDetectTx)
	set("memb_merge_detect_rx", st.MembMergeDetectRx)
	set("memb_join_tx", st.MembJoinTx)
	set("memb_join_rx", st.MembJoinRx)
	set("mcast_tx", st.McastTx)
	set("mcast_retx", st.McastRetx)
	set("mcast_rx", st.McastRx)
	set("memb_commit_token_tx", st.MembCommitTokenTx)
	set("memb_commit_token_rx", st.MembCommitTokenRx)
	set("token_hold_cancel_tx", st.TokenHoldCancelTx)
	set("token_hold_cancel_rx", st.TokenHoldCancelRx)
	set("operational_entered", st.OperationalEntered)
	set("operational_token_lost", st.OperationalTokenLost)
	set("gather_entered", st.GatherEntered)
	set("gather_token_lost", st.GatherTokenLost)
	set("commit_entered", st.CommitEntered)
	set("commit_token_lost", st.CommitTokenLost)
	set("recovery_entered", st.RecoveryEntered)
	set("recovery_token_lost", st.RecoveryTokenLost)
	set("consensus_timeouts", st.ConsensusTimeouts)
	set("rx_msg_dropped", st.RxMsgDropped)
	_ = n.stats.Set("stats.srp.continuous_gather", cmap.U32(uint32(st.ContinuousGather))) // u32 in Corosync
	set("failed_to_recv", st.FailedToRecv)
	n.publishTotemHealth(st)
	pgs := n.packer.QueueStats(n.srp.Avail())
	_ = n.stats.Set("stats.pg.msg_queue_avail", cmap.U32(pgs.MsgQueueAvail))
	_ = n.stats.Set("stats.pg.msg_reserved", cmap.U32(pgs.MsgReserved))
	if n.ipcSrv != nil {
		cmapsvc.PublishIPCStats(n.stats, n.ipcSrv)
	}
	_ = n.engine.PublishStats(n.store)
	n.publishExtStats()
}
