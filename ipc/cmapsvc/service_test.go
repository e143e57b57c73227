package cmapsvc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
)

var nameSeq atomic.Int32

// startLocal serves the fixture stores under a private socket name in this
// process (no namespace needed).
func startLocal(t testing.TB) (name string, def, stats *cmap.Store) {
	t.Helper()
	return startLocalCfg(t, ipc.Config{})
}

func startLocalCfg(t testing.TB, cfg ipc.Config) (name string, def, stats *cmap.Store) {
	t.Helper()
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("needs /dev/shm")
	}
	def, stats = fixtureStores()
	svc := cmapsvc.New(def, stats).IPCService()
	svc.Name = fmt.Sprintf("rftest-cmap%d-%d", os.Getpid(), nameSeq.Add(1))
	srv := ipc.NewServer(cfg)
	srv.SetReady(true)
	if err := srv.Serve(svc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return svc.Name, def, stats
}

func dial(t testing.TB, name string, m int) *cmapsvc.Client {
	t.Helper()
	c, err := cmapsvc.DialService(name, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoClientGetSetIter(t *testing.T) {
	name, def, _ := startLocal(t)
	c := dial(t, name, 0)
	for _, e := range def.Iter("") {
		got, err := c.Get(e.Key)
		if err != nil || !got.Equal(e.Value) {
			t.Fatalf("Get %s = %v %v, want %v", e.Key, got, err, e.Value)
		}
	}
	vals := []cmap.Value{cmap.I8(-1), cmap.U16(65535), cmap.I64(-5), cmap.Dbl(3.5), cmap.Str("x y"), cmap.Bin([]byte{9, 0, 9}), cmap.Str("")}
	for i, v := range vals {
		k := fmt.Sprintf("new.key%d", i)
		if err := c.Set(k, v); err != nil {
			t.Fatalf("Set %s: %v", k, err)
		}
		if got, _ := def.Get(k); !got.Equal(v) {
			t.Fatalf("store has %v for %s, want %v", got, k, v)
		}
	}
	if err := c.AdjustInt("test.types.u32", -1); err != nil {
		t.Fatal(err)
	}
	if v, _ := def.GetUint32("test.types.u32"); v != 3999999999 {
		t.Fatalf("adjust: %d", v)
	}
	keys, err := c.Iter("test.types.")
	if err != nil {
		t.Fatal(err)
	}
	var want []cmapsvc.KeyInfo
	for _, e := range def.Iter("test.types.") {
		want = append(want, cmapsvc.KeyInfo{Key: e.Key, Type: e.Value.Type, Len: uint64(e.Value.Len())})
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("Iter = %v\nwant %v", keys, want)
	}
	if err := c.Delete("new.key0"); err != nil || def.Has("new.key0") {
		t.Fatalf("Delete: %v", err)
	}
	// Errors come back as icmap reports them.
	checks := []struct {
		err  error
		want ipc.CsError
	}{
		{c.Delete("new.key0"), ipc.CsErrNotExist},
		{c.Set("runtime.config.totem.token", cmap.U32(1)), ipc.CsErrAccess},
		{c.Delete("totem.cluster_name"), ipc.CsErrAccess},
		{c.Set("ab", cmap.U8(1)), ipc.CsErrNameTooLong},
		{c.Set("bad key!", cmap.U8(1)), ipc.CsErrNameTooLong},
		{c.AdjustInt("test.types.str", 1), ipc.CsErrInvalidParm},
		{c.SetCurrentMap(5), ipc.CsErrNotExist},
	}
	for i, ck := range checks {
		if !errors.Is(ck.err, ck.want) {
			t.Errorf("check %d: got %v, want %v", i, ck.err, ck.want)
		}
	}
}

func TestStatsMapAndBusy(t *testing.T) {
	name, _, stats := startLocal(t)
	c := dial(t, name, 1)
	v, err := c.Get("stats.srp.orf_token_rx")
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := v.AsUint64(); x != 12345 {
		t.Fatalf("stats value %d", x)
	}
	if err := c.Set("stats.srp.mcast_tx", cmap.U64(1)); !errors.Is(err, ipc.CsErrAccess) {
		t.Fatalf("stats key writable: %v", err)
	}
	if _, err := c.TrackAdd("stats.", cmap.TrackPrefix|cmap.TrackModify, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.SetCurrentMap(0); !errors.Is(err, ipc.CsErrBusy) {
		t.Fatalf("map switch with an open track: %v", err)
	}
	stats.Set("stats.srp.mcast_tx", cmap.U64(100))
	inst, ev, err := c.ReadNotify(5 * time.Second)
	if err != nil || inst != 1 || ev.Key != "stats.srp.mcast_tx" || ev.Kind != cmap.EventModify {
		t.Fatalf("notify: %d %+v %v", inst, ev, err)
	}
}

func TestTrackingNotifications(t *testing.T) {
	name, def, _ := startLocal(t)
	watcher := dial(t, name, 0)
	writer := dial(t, name, 0)
	h, err := watcher.TrackAdd("watch.", cmap.TrackPrefix|cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete, 0xfeedface)
	if err != nil {
		t.Fatal(err)
	}
	writer.Set("watch.a", cmap.U32(1))
	writer.Set("watch.a", cmap.U32(1)) // same value: no event
	writer.Set("watch.a", cmap.Str("two"))
	writer.Set("other.key", cmap.U8(1)) // outside the prefix
	def.Delete("watch.a")               // daemon-side changes notify too
	want := []cmap.Event{
		{Key: "watch.a", Kind: cmap.EventAdd, New: cmap.U32(1)},
		{Key: "watch.a", Kind: cmap.EventModify, New: cmap.Str("two"), Old: cmap.U32(1)},
		{Key: "watch.a", Kind: cmap.EventDelete, Old: cmap.Str("two")},
	}
	for i, w := range want {
		inst, ev, err := watcher.ReadNotify(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if inst != 0xfeedface || ev.Key != w.Key || ev.Kind != w.Kind || !ev.New.Equal(w.New) || !ev.Old.Equal(w.Old) {
			t.Fatalf("event %d: %+v, want %+v", i, ev, w)
		}
	}
	if _, _, err := watcher.ReadNotify(100 * time.Millisecond); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("unexpected extra event: %v", err)
	}
	if inst, err := watcher.TrackDelete(h); err != nil || inst != 0xfeedface {
		t.Fatalf("TrackDelete: %x %v", inst, err)
	}
	if _, err := watcher.TrackDelete(h); !errors.Is(err, ipc.CsErrBadHandle) {
		t.Fatalf("second TrackDelete: %v", err)
	}
}

// TestGetResponseSizes checks pitfall 6: a GET reply is exactly 40 bytes
// plus the buffer the client offered, whatever the value's length.
func TestGetResponseSizes(t *testing.T) {
	name, _, _ := startLocal(t)
	c, err := client.Dial(name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func(key string, bufLen uint64) []byte {
		req := make([]byte, cmapsvc.RequestSizes[cmapsvc.ReqGet])
		for i := range req {
			req[i] = 0xAA // garbage padding, as C clients send
		}
		ipc.PutRequestHeader(req, cmapsvc.ReqGet, len(req))
		for i := 4; i < 8; i++ {
			req[i] = 0xAA
		}
		binary.LittleEndian.PutUint16(req[16:], uint16(len(key)))
		copy(req[24:], key)
		req[24+len(key)] = 0
		binary.LittleEndian.PutUint64(req[280:], bufLen)
		resp, err := c.SendRecv(req, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	r := get("test.types.u32", 0)
	if len(r) != 40 || binary.LittleEndian.Uint64(r[24:]) != 4 || r[32] != byte(cmap.TypeUint32) {
		t.Fatalf("length query: % x", r)
	}
	r = get("test.types.u32", 100)
	if len(r) != 140 || binary.LittleEndian.Uint64(r[24:]) != 4 || binary.LittleEndian.Uint32(r[40:]) != 4000000000 {
		t.Fatalf("oversized buffer: %d bytes", len(r))
	}
	r = get("test.types.str", 3) // "hello world\0" needs 12
	if h, _ := ipc.ParseResponseHeader(r); len(r) != 40 || h.Error != ipc.CsErrInvalidParm {
		t.Fatalf("short buffer: %d bytes, %v", len(r), h.Error)
	}
	r = get("test.types.str", 1<<40) // absurd buffer: refused, not allocated
	if h, _ := ipc.ParseResponseHeader(r); len(r) != 40 || h.Error != ipc.CsErrNoMemory {
		t.Fatalf("huge buffer: %d bytes, %v", len(r), h.Error)
	}
}

func TestAuthorizer(t *testing.T) {
	s := cmap.New()
	auth := cmapsvc.Authorizer(s)
	try := func(uid, gid int) syscall.Errno { return auth(nil, ipc.Cred{PID: 1, UID: uid, GID: gid}) }
	if try(0, 1000) != 0 || try(1000, 0) != 0 {
		t.Fatal("root user or group refused")
	}
	if try(1000, 1000) != syscall.EACCES {
		t.Fatal("unprivileged client accepted with no uidgid keys")
	}
	s.Set("uidgid.gid.1000", cmap.U8(2))
	if try(1000, 1000) != syscall.EACCES {
		t.Fatal("value 2 must not grant access")
	}
	s.Set("uidgid.gid.1000", cmap.U8(1))
	if try(5, 1000) != 0 {
		t.Fatal("uidgid.gid key ignored")
	}
	s.Set("uidgid.config.uid.7", cmap.U8(1))
	if try(7, 7) != 0 || try(8, 8) != syscall.EACCES {
		t.Fatal("uidgid.config.uid key handled wrongly")
	}
	s.Set("uidgid.uid.9", cmap.U32(1)) // wrong type: icmap_get_uint8 fails
	if try(9, 9) != syscall.EACCES {
		t.Fatal("a u32 uidgid key granted access")
	}
}

func TestPublishIPCStats(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("needs /dev/shm")
	}
	def, stats := fixtureStores()
	svc := cmapsvc.New(def, stats).IPCService()
	svc.Name = fmt.Sprintf("rftest-cmap%d-%d", os.Getpid(), nameSeq.Add(1))
	srv := ipc.NewServer(ipc.Config{})
	srv.SetReady(true)
	if err := srv.Serve(svc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; srv.Close() }()

	c := dial(t, svc.Name, 0)
	c.Get("test.types.u8")
	c.Get("test.types.u8") // two GETs = four requests (length, then value)
	cmapsvc.PublishIPCStats(stats, srv)
	if v, _ := stats.GetUint64("stats.ipcs.global.active"); v != 1 {
		t.Fatalf("global.active = %d", v)
	}
	reqs := stats.Iter("stats.ipcs.service0.")
	var found bool
	for _, e := range reqs {
		if strings.HasSuffix(e.Key, ".requests") {
			found = true
			if n, _ := e.Value.AsUint64(); n != 4 {
				t.Fatalf("%s = %d, want 4", e.Key, n)
			}
			if !strings.HasPrefix(e.Key, fmt.Sprintf("stats.ipcs.service0.%d.0x", os.Getpid())) {
				t.Fatalf("key %s does not follow service<id>.<pid>.<conn>", e.Key)
			}
		}
	}
	if !found || len(reqs) != 13 {
		t.Fatalf("%d per-connection keys, want 13: %v", len(reqs), reqs)
	}
	c.Close()
	waitUntil(t, func() bool { return srv.Stats().Active == 0 })
	cmapsvc.PublishIPCStats(stats, srv)
	if left := stats.Iter("stats.ipcs.service"); len(left) != 0 {
		t.Fatalf("keys of a closed connection remain: %v", left)
	}
	if v, _ := stats.GetUint64("stats.ipcs.global.closed"); v != 1 {
		t.Fatalf("global.closed = %d", v)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

// TestOwnWriteNotifiesBeforeReply: icmap runs trackers inside the write,
// so a client tracking a key it writes itself finds the notification
// waiting (doorbell included) as soon as the write's reply arrives.
func TestOwnWriteNotifiesBeforeReply(t *testing.T) {
	name, _, _ := startLocal(t)
	c := dial(t, name, 0)
	if _, err := c.TrackAdd("own.", cmap.TrackPrefix|cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete, 5); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := c.Set("own.key", cmap.U32(uint32(i))); err != nil {
			t.Fatal(err)
		}
		_, ev, err := c.ReadNotify(0)
		if err != nil {
			t.Fatalf("round %d: notification not there with the reply: %v", i, err)
		}
		if v, _ := ev.New.AsUint64(); v != uint64(i) {
			t.Fatalf("round %d: notification for value %d", i, v)
		}
	}
}

// TestStalledTrackerIsDisconnected: a client that tracks keys but never
// reads its events is cut off once its queues overflow, instead of
// silently missing changes.
func TestStalledTrackerIsDisconnected(t *testing.T) {
	name, def, _ := startLocalCfg(t, ipc.Config{MaxQueuedEvents: 8})
	raw, err := client.DialOptions(name, client.Options{MaxMsgSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := make([]byte, cmapsvc.RequestSizes[cmapsvc.ReqTrackAdd])
	ipc.PutRequestHeader(req, cmapsvc.ReqTrackAdd, len(req))
	binary.LittleEndian.PutUint16(req[16:], 6)
	copy(req[24:], "flood.")
	binary.LittleEndian.PutUint32(req[280:], uint32(cmap.TrackPrefix|cmap.TrackAdd|cmap.TrackModify))
	if _, err := raw.SendRecv(req, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range 200 { // ~340-byte events: the 8 KiB ring holds 24, the queue 8 more
		def.Set("flood.key", cmap.U32(uint32(i)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		probe := make([]byte, 24)
		ipc.PutRequestHeader(probe, cmapsvc.ReqIterNext, 24)
		if _, err := raw.SendRecv(probe, time.Second); errors.Is(err, client.ErrDisconnected) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("flooded tracker still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
