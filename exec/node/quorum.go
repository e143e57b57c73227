package node

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/wire"
	"github.com/ringfence/ringfence/votequorum"
	"github.com/ringfence/ringfence/votequorum/vqipc"
)

// voteService puts the pure votequorum machine into the exec engine as
// service 5, so that the node takes part in vote quorum like a corosync
// node (its NODEINFO carries its votes; corosync peers count them).
type voteService struct {
	m     *votequorum.Machine
	ipc   *vqipc.Services // owns m.Ready(): quorum and votequorum IPC
	log   *logrus.Logger
	store *cmap.Store
	// out holds messages the machine queued outside SyncProcess (replies
	// to deliveries, timers); the runtime sends them through the engine.
	out []exec.Message
	// inSync collects SyncProcess's own messages instead.
	inSync bool
	sync   []exec.Message
	// keysGen is the machine's RuntimeGen last copied into cmap; keysDone
	// says a copy happened at all.
	keysGen  uint64
	keysDone bool
	cfgWatch configWatch
}

func newVoteService(cfg votequorum.Config, log *logrus.Logger, store *cmap.Store) (*voteService, error) {
	m, err := votequorum.New(cfg, time.Now())
	if err != nil {
		return nil, err
	}
	v := &voteService{m: m, log: log, store: store}
	v.ipc = vqipc.New(m, true, v.queue)
	v.ipc.Votequorum.Clock = time.Now
	v.cfgWatch.start(store)
	v.collect()
	return v, nil
}

func (v *voteService) ID() exec.ServiceID { return votequorum.ServiceID }
func (v *voteService) Name() string       { return "corosync vote quorum service v1.0" }
func (v *voteService) ExecCount() int     { return votequorum.FnQdeviceReconfigure + 1 }

// Deliver and SyncInit first bring the machine's clock to now: they may
// arm the last_man_standing and quorum device timers, which run from the
// machine's time.
func (v *voteService) Deliver(from uint32, _ uint16, msg []byte, swapped bool) error {
	v.m.Tick(time.Now())
	err := v.m.DeliverBytes(from, msg, swapped)
	v.collect()
	return err
}

func (v *voteService) SyncInit(trans, members []uint32, ring wire.RingID) {
	v.m.Tick(time.Now())
	v.m.SyncInit(trans, members, votequorum.RingID{Rep: ring.Rep, Seq: ring.Seq})
	v.collect()
}

func (v *voteService) SyncProcess() (bool, []exec.Message) {
	v.inSync = true
	wait := v.m.SyncProcess()
	v.collect()
	v.inSync = false
	msgs := v.sync
	v.sync = nil
	return !wait, msgs
}

func (v *voteService) SyncActivate() { v.m.SyncActivate(); v.collect() }
func (v *voteService) SyncAbort()    { v.m.SyncAbort(); v.collect() }

// tick fires due timers and flushes what IPC requests (SETEXPECTED,
// SETVOTES, QDEVICE_*) left in the machine: their RECONFIGURE and
// NODEINFO messages must reach the ring now, not with the next delivery.
func (v *voteService) tick(now time.Time) {
	v.m.Tick(now)
	v.cfgWatch.apply(v.m, v.store)
	v.collect()
}

// takeOut returns the messages queued outside a sync.
func (v *voteService) takeOut() []exec.Message {
	out := v.out
	v.out = nil
	return out
}

// queue takes the machine's exec messages from vqipc's Flush. Messages
// made by SyncProcess are returned from it, so that they go out before
// the engine's BARRIER, as Corosync's NODEINFO does.
func (v *voteService) queue(msgs ...exec.Message) {
	if v.inSync {
		v.sync = append(v.sync, msgs...)
	} else {
		v.out = append(v.out, msgs...)
	}
}

func (v *voteService) collect() {
	v.ipc.Flush()
	if gen := v.m.RuntimeGen(); v.keysDone && gen == v.keysGen {
		return
	} else {
		v.keysGen, v.keysDone = gen, true
	}
	for _, k := range v.m.RuntimeKeys() {
		var val cmap.Value
		if k.Value.U8 {
			val = cmap.U8(uint8(k.Value.Value))
		} else {
			val = cmap.U32(k.Value.Value)
		}
		if old, err := v.store.Get(k.Key); err != nil || !old.Equal(val) {
			_ = v.store.Set(k.Key, val)
		}
	}
}

// voteConfig reads the quorum section; ok is false when votequorum is not
// the configured provider (then Corosync runs no quorum service either).
func voteConfig(cfg *coroconf.Config, s Settings) (votequorum.Config, bool) {
	return voteConfigFrom(cfg.Get, cfg.Entries, s)
}

// storeVoteConfig reads the same settings from the live cmap, as
// corosync's votequorum re-reads icmap when they change at runtime.
func storeVoteConfig(store *cmap.Store, s Settings) (votequorum.Config, bool) {
	get := func(key string) (cmap.Value, bool) {
		v, err := store.Get(key)
		return v, err == nil
	}
	return voteConfigFrom(get, store.Iter("nodelist.node."), s)
}

// voteConfigFrom reads quorum.* through get and the nodes from entries
// (those outside nodelist.node.* are ignored).
func voteConfigFrom(get func(string) (cmap.Value, bool), entries []cmap.Entry, s Settings) (votequorum.Config, bool) {
	str := func(key string) (string, bool) {
		v, ok := get(key)
		if !ok {
			return "", false
		}
		if t, ok := v.AsString(); ok {
			return t, true
		}
		if n, ok := v.AsUint64(); ok {
			return strconv.FormatUint(n, 10), true
		}
		return "", false
	}
	num := func(key string) (uint32, bool) {
		t, ok := str(key)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 32)
		return uint32(n), err == nil
	}
	flag := func(key string) bool { n, _ := num(key); return n != 0 }
	if p, _ := str("quorum.provider"); p != "corosync_votequorum" {
		return votequorum.Config{}, false
	}
	vc := votequorum.Config{NodeID: s.NodeID}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Key, "nodelist.node.")
		if !ok || !strings.HasSuffix(rest, ".nodeid") {
			continue
		}
		idx := strings.TrimSuffix(rest, ".nodeid")
		id, ok := e.Value.AsUint64()
		if !ok {
			continue
		}
		ne := votequorum.NodeEntry{NodeID: uint32(id)}
		if q, ok := num("nodelist.node." + idx + ".quorum_votes"); ok {
			ne.QuorumVotes = &q
		}
		vc.Nodelist = append(vc.Nodelist, ne)
	}
	vc.ExpectedVotes, _ = num("quorum.expected_votes")
	if v, ok := num("quorum.votes"); ok {
		vc.Votes = &v
	}
	vc.TwoNode = flag("quorum.two_node")
	if _, ok := str("quorum.wait_for_all"); ok {
		w := flag("quorum.wait_for_all")
		vc.WaitForAll = &w
	}
	vc.LastManStanding = flag("quorum.last_man_standing")
	if v, ok := num("quorum.last_man_standing_window"); ok {
		vc.LastManStandingWindowMS = &v
	}
	vc.AutoTieBreaker = flag("quorum.auto_tie_breaker")
	if t, ok := str("quorum.auto_tie_breaker_node"); ok {
		vc.AutoTieBreakerNode = &t
	}
	vc.AllowDownscale = flag("quorum.allow_downscale")
	vc.ExpectedVotesTracking = flag("quorum.expected_votes_tracking")
	// quorum.device.*: votequorum reads the model (its presence enables
	// the device API), the votes and the two timeouts; corosync-qdevice
	// reads the rest (net.*, heuristics) from cmap itself.
	if model, ok := str("quorum.device.model"); ok {
		vc.Qdevice.Model = model
		if v, ok := num("quorum.device.votes"); ok {
			vc.Qdevice.Votes = &v
		}
		if v, ok := num("quorum.device.timeout"); ok {
			vc.Qdevice.TimeoutMS = &v
		}
		if v, ok := num("quorum.device.sync_timeout"); ok {
			vc.Qdevice.SyncTimeoutMS = &v
		}
		vc.Qdevice.MasterWins = flag("quorum.device.master_wins")
	}
	vc.EVStore = &evFile{path: filepath.Join(s.StateDir, "ev_tracking")}
	return vc, true
}

// evFile keeps the expected_votes_tracking barrier in <state_dir>/ev_tracking.
type evFile struct{ path string }

func (f *evFile) Load() (uint32, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, f.Save(0)
	}
	if err != nil {
		return 0, err
	}
	if len(b) < 4 {
		return 0, nil
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (f *evFile) Save(v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return os.WriteFile(f.path, b[:], 0o600)
}
