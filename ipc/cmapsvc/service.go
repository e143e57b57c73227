package cmapsvc

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
)

// Service is the cmap IPC service over the default and the stats map.
type Service struct {
	maps [2]*cmap.Store
	log  *logrus.Entry
	// TrackQueue is the per-track event queue length (default 1024).
	TrackQueue int
	// RefreshStats, when set, runs before every request on the stats
	// map: Corosync computes that map when it is read, so a client sees
	// counters of the moment, its own connection included.
	RefreshStats func()
	// ClearStats carries out corosync-cmapctl -C (what is knet, ipc,
	// totem, schedmiss or all); nil accepts the request and clears
	// nothing.
	ClearStats func(what string)
}

// New serves def as map 0 (icmap) and stats as map 1 (may be nil).
func New(def, stats *cmap.Store) *Service {
	return &Service{maps: [2]*cmap.Store{def, stats}, log: logrus.WithField("subsys", "CMAP"), TrackQueue: 1024}
}

// IPCService describes the endpoint for ipc.Server.Serve.
func (s *Service) IPCService() *ipc.Service {
	return &ipc.Service{Name: ServiceName, ID: ServiceID, Handler: s, RequestSizes: RequestSizes}
}

// Authorizer is Corosync's access rule for every IPC service: root user or
// root group, or a uidgid.{,config.}{uid,gid}.<id> key holding u8 1.
func Authorizer(store *cmap.Store) ipc.Authorizer {
	return func(_ *ipc.Service, cr ipc.Cred) syscall.Errno {
		if cr.UID == 0 || cr.GID == 0 {
			return 0
		}
		for _, k := range []string{
			fmt.Sprintf("uidgid.uid.%d", cr.UID), fmt.Sprintf("uidgid.config.uid.%d", cr.UID),
			fmt.Sprintf("uidgid.gid.%d", cr.GID), fmt.Sprintf("uidgid.config.gid.%d", cr.GID),
		} {
			if v, err := store.GetUint8(k); err == nil && v == 1 {
				return 0
			}
		}
		return syscall.EACCES
	}
}

type iterState struct {
	keys []string
	pos  int
}

type trackState struct {
	tracker *cmap.Tracker
	store   *cmap.Store
	inst    uint64
	flush   chan chan struct{} // ask the forwarder to send what is queued
	done    chan struct{}      // closed when the forwarder exits
}

// connState is what one connection owns (Corosync's cmap_conn_info).
type connState struct {
	mapID  int
	iters  map[uint64]*iterState
	tracks map[uint64]*trackState
}

// Connected sets up the connection's handles (lib_init_fn).
func (s *Service) Connected(c *ipc.Conn) {
	c.Private = newConnState()
}

// Disconnected drops the connection's tracks and iterators (lib_exit_fn).
func (s *Service) Disconnected(c *ipc.Conn) {
	if st, ok := c.Private.(*connState); ok {
		st.close()
	}
}

func newConnState() *connState {
	return &connState{iters: map[uint64]*iterState{}, tracks: map[uint64]*trackState{}}
}

// close drops the connection's tracks and iterators (lib_exit_fn).
func (st *connState) close() {
	for h, t := range st.tracks {
		t.store.Untrack(t.tracker)
		delete(st.tracks, h)
	}
	clear(st.iters)
}

// newHandle makes an opaque 64-bit handle unique within m, shaped like
// Corosync's hdb handles (random check word, index).
func newHandle[V any](m map[uint64]V) uint64 {
	for {
		var b [8]byte
		rand.Read(b[:])
		h := binary.LittleEndian.Uint64(b[:]) | 1<<63
		if _, dup := m[h]; !dup {
			return h
		}
	}
}

// Handle answers one request (owner goroutine).
func (s *Service) Handle(c *ipc.Conn, id int32, msg []byte) {
	st, ok := c.Private.(*connState)
	if !ok {
		c.Respond(header(0, ipc.ResponseHeaderSize, ipc.CsErrLibrary))
		return
	}
	c.Respond(s.process(st, id, msg, c, c.MaxPayload()))
}

// eventSink is where a connection's notifications go (an *ipc.Conn).
type eventSink interface {
	SendEvent(msg []byte) error
	Close()
}

// process answers one request that passed the server's id and minimum
// size checks. Events for tracks go to sink; maxMsg bounds the reply.
func (s *Service) process(st *connState, id int32, msg []byte, sink eventSink, maxMsg int) []byte {
	if st.mapID == 1 && s.RefreshStats != nil {
		s.RefreshStats()
	}
	store := s.maps[st.mapID]
	switch id {
	case ReqSet, ReqDelete, ReqAdjustInt:
		if st.mapID == 1 {
			e := ipc.CsErrInvalidParm
			if key, ok := readName(msg, offKey); ok {
				e = s.statsWrite(key, id == ReqSet)
			}
			return header(id, ipc.ResponseHeaderSize, e) // Res ids equal Req ids here
		}
	}
	switch id {
	case ReqSet:
		e := s.set(store, msg)
		st.flushTracks()
		return header(ResSet, ipc.ResponseHeaderSize, e)
	case ReqDelete:
		e := ipc.CsErrInvalidParm
		if key, ok := readName(msg, offKey); ok {
			e = csErr(store.ClientDelete(key))
		}
		st.flushTracks()
		return header(ResDelete, ipc.ResponseHeaderSize, e)
	case ReqGet:
		return s.get(store, msg, maxMsg)
	case ReqAdjustInt:
		e := ipc.CsErrInvalidParm
		if key, ok := readName(msg, offKey); ok {
			step := int32(binary.LittleEndian.Uint32(msg[offReqArg:]))
			e = csErr(store.AdjustInt(key, step, true))
		}
		st.flushTracks()
		return header(ResAdjustInt, ipc.ResponseHeaderSize, e)
	case ReqIterInit:
		out := header(ResIterInit, sizeIterInitRes, ipc.CsOK)
		prefix, ok := readName(msg, offKey)
		if !ok {
			out = header(ResIterInit, sizeIterInitRes, ipc.CsErrInvalidParm)
		} else {
			it := &iterState{}
			for _, e := range store.Iter(prefix) {
				it.keys = append(it.keys, e.Key)
			}
			h := newHandle(st.iters)
			st.iters[h] = it
			binary.LittleEndian.PutUint64(out[24:], h)
		}
		return out
	case ReqIterNext:
		return s.iterNext(st, store, u64(msg, offHandle))
	case ReqIterFinalize:
		e := ipc.CsErrBadHandle
		if h := u64(msg, offHandle); st.iters[h] != nil {
			delete(st.iters, h)
			e = ipc.CsOK
		}
		return header(ResIterFinalize, ipc.ResponseHeaderSize, e)
	case ReqTrackAdd:
		return s.trackAdd(st, store, msg, sink)
	case ReqTrackDelete:
		out := header(ResTrackDelete, sizeTrackDelRes, ipc.CsErrBadHandle)
		if h := u64(msg, offHandle); st.tracks[h] != nil {
			t := st.tracks[h]
			t.store.Untrack(t.tracker)
			delete(st.tracks, h)
			out = header(ResTrackDelete, sizeTrackDelRes, ipc.CsOK)
			binary.LittleEndian.PutUint64(out[24:], t.inst)
		}
		return out
	case ReqSetCurrentMap:
		e := ipc.CsOK
		m := int32(binary.LittleEndian.Uint32(msg[offHandle:]))
		switch {
		case len(st.iters) > 0 || len(st.tracks) > 0:
			e = ipc.CsErrBusy // Corosync refuses to switch with open handles
		case m < 0 || m > 1 || s.maps[m] == nil:
			e = ipc.CsErrNotExist
		default:
			st.mapID = int(m)
		}
		return header(ResSetCurrentMap, ipc.ResponseHeaderSize, e)
	}
	// The server only passes ids below len(RequestSizes).
	return header(0, ipc.ResponseHeaderSize, ipc.CsErrInvalidParm)
}

func (s *Service) set(store *cmap.Store, msg []byte) ipc.CsError {
	key, ok := readName(msg, offKey)
	if !ok {
		return ipc.CsErrInvalidParm
	}
	n := u64(msg, offReqArg)
	if n > MaxValueLen || uint64(len(msg)-offSetValue) < n {
		return ipc.CsErrInvalidParm
	}
	raw := msg[offSetValue : offSetValue+int(n)]
	t := cmap.Type(msg[offSetType])
	if t == cmap.TypeString {
		// icmap: value_len may stop short of the NUL but never pass it.
		end := len(raw)
		for i, b := range raw {
			if b == 0 {
				end = i
				break
			}
		}
		if int(n) > end+1 {
			return ipc.CsErrInvalidParm
		}
	}
	v, err := cmap.FromWire(t, raw)
	if err != nil {
		return ipc.CsErrInvalidParm
	}
	return csErr(store.ClientSet(key, v))
}

func (s *Service) get(store *cmap.Store, msg []byte, maxMsg int) []byte {
	key, ok := readName(msg, offKey)
	if !ok {
		return header(ResGet, sizeGetRes, ipc.CsErrInvalidParm)
	}
	want := u64(msg, offReqArg)
	v, err := store.Get(key)
	if err != nil {
		return header(ResGet, sizeGetRes, csErr(err))
	}
	actual := v.Len()
	if want > 0 && want < uint64(actual) {
		return header(ResGet, sizeGetRes, ipc.CsErrInvalidParm)
	}
	// The reply is exactly 40 + the buffer the client offered: libqb
	// hands a larger chunk back to the caller as -ENOBUFS.
	if want > uint64(maxMsg-sizeGetRes) {
		return header(ResGet, sizeGetRes, ipc.CsErrNoMemory)
	}
	out := header(ResGet, sizeGetRes+int(want), ipc.CsOK)
	binary.LittleEndian.PutUint64(out[24:], uint64(actual))
	out[32] = byte(v.Type)
	if want > 0 {
		copy(out[sizeGetRes:], v.WireBytes())
	}
	return out
}

func (s *Service) iterNext(st *connState, store *cmap.Store, h uint64) []byte {
	it := st.iters[h]
	if it == nil {
		return header(ResIterNext, sizeIterNextRes, ipc.CsErrBadHandle)
	}
	for it.pos < len(it.keys) {
		key := it.keys[it.pos]
		it.pos++
		v, err := store.Get(key)
		if err != nil {
			continue // deleted since the iteration started
		}
		out := header(ResIterNext, sizeIterNextRes, ipc.CsOK)
		putName(out, 24, key)
		binary.LittleEndian.PutUint64(out[288:], uint64(v.Len()))
		out[296] = byte(v.Type)
		return out
	}
	return header(ResIterNext, sizeIterNextRes, ipc.CsErrNoSections)
}

func (s *Service) trackAdd(st *connState, store *cmap.Store, msg []byte, sink eventSink) []byte {
	key, ok := readName(msg, offKey)
	if !ok {
		return header(ResTrackAdd, sizeTrackAddRes, ipc.CsErrInvalidParm)
	}
	flags := cmap.TrackFlags(int32(binary.LittleEndian.Uint32(msg[offReqArg:])))
	if key == "" {
		flags |= cmap.TrackPrefix // a NULL key watches the whole map
	}
	inst := u64(msg, offTrackInst)
	t := store.Track(key, flags, s.TrackQueue)
	h := newHandle(st.tracks)
	ts := &trackState{tracker: t, store: store, inst: inst, flush: make(chan chan struct{}), done: make(chan struct{})}
	st.tracks[h] = ts
	go ts.forward(sink)
	out := header(ResTrackAdd, sizeTrackAddRes, ipc.CsOK)
	binary.LittleEndian.PutUint64(out[24:], h)
	return out
}

// forward turns store events into NOTIFY_CALLBACK events until the tracker
// is removed (which closes its channel). A client that cannot keep up
// (its queues overflowed, so it missed a change) is disconnected rather
// than left with a silently stale view.
func (ts *trackState) forward(sink eventSink) {
	defer close(ts.done)
	events := ts.tracker.Events()
	send := func(msg []byte) {
		if err := sink.SendEvent(msg); err == syscall.ENOBUFS || ts.tracker.Dropped() > 0 {
			sink.Close()
		}
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			send(EncodeNotify(ts.inst, ev))
		case ack := <-ts.flush:
			for queued := true; queued; {
				select {
				case ev, ok := <-events:
					if !ok {
						close(ack)
						return
					}
					send(EncodeNotify(ts.inst, ev))
				default:
					queued = false
				}
			}
			close(ack)
		}
	}
}

// flushTracks sends the notifications a write by this connection caused
// before its reply goes out: icmap calls trackers inside the write, so
// Corosync's clients see the event first. The store queues events while
// it holds its lock, so after the write returns they are all queued.
func (st *connState) flushTracks() {
	for _, ts := range st.tracks {
		ack := make(chan struct{})
		select {
		case ts.flush <- ack:
			select {
			case <-ack:
			case <-ts.done:
			}
		case <-ts.done:
		}
	}
}

// EncodeNotify builds res_lib_cmap_notify_callback: 336 bytes of fixed
// fields followed by the new value, then the old value.
func EncodeNotify(inst uint64, ev cmap.Event) []byte {
	nv, ov := wireValue(ev.New), wireValue(ev.Old)
	out := header(ResNotify, sizeNotify+len(nv)+len(ov), ipc.CsOK)
	binary.LittleEndian.PutUint64(out[24:], inst)
	putName(out, 32, ev.Key)
	binary.LittleEndian.PutUint32(out[296:], uint32(ev.Kind))
	out[304] = byte(ev.New.Type)
	out[312] = byte(ev.Old.Type)
	binary.LittleEndian.PutUint64(out[320:], uint64(len(nv)))
	binary.LittleEndian.PutUint64(out[328:], uint64(len(ov)))
	copy(out[sizeNotify:], nv)
	copy(out[sizeNotify+len(nv):], ov)
	return out
}

func wireValue(v cmap.Value) []byte {
	if !v.Type.Valid() {
		return nil
	}
	return v.WireBytes()
}

// csErr maps store errors to what icmap returns for the same failure.
func csErr(err error) ipc.CsError {
	switch {
	case err == nil:
		return ipc.CsOK
	case errors.Is(err, cmap.ErrNotFound):
		return ipc.CsErrNotExist
	case errors.Is(err, cmap.ErrReadOnly):
		return ipc.CsErrAccess
	case errors.Is(err, cmap.ErrInvalidName):
		return ipc.CsErrNameTooLong
	case errors.Is(err, cmap.ErrTypeMismatch), errors.Is(err, cmap.ErrInvalidValue):
		return ipc.CsErrInvalidParm
	}
	return ipc.CsErrLibrary
}
