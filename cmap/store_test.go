package cmap

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
)

func TestSetGetTypes(t *testing.T) {
	s := New()
	cases := []struct {
		key  string
		v    Value
		text string
	}{
		{"a.i8", I8(-5), "a.i8 (i8) = -5"},
		{"a.u8", U8(250), "a.u8 (u8) = 250"},
		{"a.i16", I16(-300), "a.i16 (i16) = -300"},
		{"a.u16", U16(5405), "a.u16 (u16) = 5405"},
		{"a.i32", I32(math.MinInt32), "a.i32 (i32) = -2147483648"},
		{"a.u32", U32(math.MaxUint32), "a.u32 (u32) = 4294967295"},
		{"a.i64", I64(-1), "a.i64 (i64) = -1"},
		{"a.u64", U64(math.MaxUint64), "a.u64 (u64) = 18446744073709551615"},
		{"a.flt", Flt(1.5), "a.flt (flt) = 1.500000"},
		{"a.dbl", Dbl(-0.1), "a.dbl (dbl) = -0.100000"},
		{"a.str", Str("hello world"), "a.str (str) = hello world"},
		{"a.bin", Bin([]byte{1, 'a', '\\', 0x80}), "a.bin (bin)"},
	}
	for _, c := range cases {
		if err := s.Set(c.key, c.v); err != nil {
			t.Fatalf("Set %s: %v", c.key, err)
		}
	}
	for _, c := range cases {
		got, err := s.Get(c.key)
		if err != nil || !got.Equal(c.v) {
			t.Fatalf("Get %s = %v, %v", c.key, got, err)
		}
		if line := FormatEntry(Entry{c.key, got}, false); line != c.text {
			t.Errorf("format %s: got %q want %q", c.key, line, c.text)
		}
	}
	if got := FormatEntry(Entry{"a.bin", Bin([]byte{1, 'a', '\\', 0x80})}, true); got != `a.bin (bin) = \x01a\\\xFFFFFF80` {
		t.Errorf("binary with -b: %q", got)
	}
	if v, _ := s.Get("a.str"); v.Len() != len("hello world")+1 || !bytes.Equal(v.WireBytes(), []byte("hello world\x00")) {
		t.Errorf("string wire form must carry the NUL: len %d %q", v.Len(), v.WireBytes())
	}
	if _, err := s.GetUint32("a.u16"); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("typed get of other type: %v", err)
	}
	if x, err := s.GetUint32("a.u32"); err != nil || x != math.MaxUint32 {
		t.Errorf("GetUint32 = %d, %v", x, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
}

func TestFromWireString(t *testing.T) {
	v, err := FromWire(TypeString, []byte("abc\x00junk"))
	if err != nil || !v.Equal(Str("abc")) {
		t.Fatalf("FromWire string = %v %v", v, err)
	}
	if _, err := FromWire(TypeUint32, []byte{1, 2}); err == nil {
		t.Fatal("short u32 accepted")
	}
	if _, err := FromWire(13, nil); err == nil {
		t.Fatal("type 13 accepted")
	}
}

func TestKeyNames(t *testing.T) {
	s := New()
	long := string(bytes.Repeat([]byte("a"), 256))
	for _, bad := range []string{"", "ab", "has space", "tab\tkey", "ünï", long} {
		if err := s.Set(bad, U8(1)); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Set(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for _, good := range []string{"abc", "a.b_c-d/e:f", long[:255]} {
		if err := s.Set(good, U8(1)); err != nil {
			t.Errorf("Set(%q) = %v", good, err)
		}
	}
	if got := SanitizeKeyName("node 1.ex@mple"); got != "node_1.ex_mple" {
		t.Errorf("SanitizeKeyName = %q", got)
	}
}

func TestReadOnly(t *testing.T) {
	s := New()
	s.ApplyDefaultReadOnly()
	if err := s.Set("nodelist.local_node_pos", U32(0)); err != nil {
		t.Fatalf("internal write to read-only key refused: %v", err)
	}
	for _, k := range []string{"nodelist.local_node_pos", "runtime.config.totem.token", "totem.cluster_name", "system.foo"} {
		if err := s.ClientSet(k, U32(1)); !errors.Is(err, ErrReadOnly) {
			t.Errorf("ClientSet(%s) = %v, want ErrReadOnly", k, err)
		}
	}
	if err := s.ClientDelete("nodelist.local_node_pos"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("ClientDelete = %v", err)
	}
	// exact rules must not act as prefixes
	if err := s.ClientSet("totem.cluster_name_x", Str("x")); err != nil {
		t.Errorf("exact rule leaked to longer key: %v", err)
	}
	if err := s.ClientSet("totem.token", U32(5000)); err != nil {
		t.Errorf("totem.token should be writable: %v", err)
	}
	s.SetReadOnly("quorum.wait_for_all", false, true)
	if err := s.ClientSet("quorum.wait_for_all", U8(1)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("added rule ignored: %v", err)
	}
	s.SetReadOnly("quorum.wait_for_all", false, false)
	if err := s.ClientSet("quorum.wait_for_all", U8(1)); err != nil {
		t.Errorf("removed rule still applies: %v", err)
	}
}

func TestIterSortedPrefix(t *testing.T) {
	s := New()
	for _, k := range []string{"nodelist.node.2.x", "nodelist.node.10.x", "nodelist.node.1.x", "totem.token", "nodelist.local_node_pos"} {
		s.Set(k, U32(1))
	}
	var got []string
	for _, e := range s.Iter("nodelist.node.") {
		got = append(got, e.Key)
	}
	want := []string{"nodelist.node.1.x", "nodelist.node.10.x", "nodelist.node.2.x"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Iter = %v, want %v (byte order like corosync's trie)", got, want)
	}
	if n := len(s.Iter("")); n != 5 {
		t.Fatalf("Iter(\"\") returned %d", n)
	}
}

func recv(t *testing.T, tr *Tracker) Event {
	t.Helper()
	select {
	case ev := <-tr.Events():
		return ev
	default:
		t.Fatal("expected an event")
	}
	return Event{}
}

func none(t *testing.T, tr *Tracker) {
	t.Helper()
	select {
	case ev := <-tr.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

func TestTracking(t *testing.T) {
	s := New()
	all := s.Track("quorum.", TrackAdd|TrackModify|TrackDelete|TrackPrefix, 16)
	exact := s.Track("quorum.votes", TrackModify, 16)

	s.Set("quorum.votes", U32(1))
	ev := recv(t, all)
	if ev.Kind != EventAdd || ev.Old.Type != 0 || !ev.New.Equal(U32(1)) {
		t.Fatalf("add event %+v", ev)
	}
	none(t, exact) // exact tracker wants only modify

	s.Set("quorum.votes", U32(1)) // identical: no event
	none(t, all)
	s.Set("quorum.votes", U8(1)) // same number, other type: a change
	ev = recv(t, all)
	if ev.Kind != EventModify || !ev.Old.Equal(U32(1)) || !ev.New.Equal(U8(1)) {
		t.Fatalf("modify event %+v", ev)
	}
	if ev := recv(t, exact); ev.Kind != EventModify {
		t.Fatalf("exact tracker %+v", ev)
	}
	s.Set("quorum.votesx", U8(1))
	recv(t, all)
	none(t, exact)
	s.Delete("quorum.votes")
	ev = recv(t, all)
	if ev.Kind != EventDelete || !ev.Old.Equal(U8(1)) || ev.New.Type != 0 {
		t.Fatalf("delete event %+v", ev)
	}
	s.Set("totem.token", U32(1))
	none(t, all)
	s.Untrack(all)
	s.Untrack(all)
	if _, ok := <-all.Events(); ok {
		t.Fatal("queue not closed by Untrack")
	}
	s.Set("quorum.votes", U32(7)) // must not panic on the closed tracker
}

func TestSlowTrackerDoesNotBlockWriter(t *testing.T) {
	s := New()
	tr := s.Track("k.", TrackAdd|TrackModify|TrackPrefix, 2)
	for i := 0; i < 100; i++ {
		if err := s.Set("k.x", U32(uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	if d := tr.Dropped(); d != 98 {
		t.Fatalf("dropped %d, want 98 (queue of 2, 100 changes)", d)
	}
	first := recv(t, tr)
	second := recv(t, tr)
	if first.Kind != EventAdd || second.Kind != EventModify || !second.New.Equal(U32(1)) {
		t.Fatalf("queue must keep the oldest events in order: %+v %+v", first, second)
	}
}

func TestAdjustInt(t *testing.T) {
	s := New()
	s.Set("a.u8", U8(255))
	if err := s.AdjustInt("a.u8", 1, false); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetUint8("a.u8"); v != 0 {
		t.Fatalf("u8 255+1 = %d, want wrap to 0", v)
	}
	s.Set("a.u64", U64(10))
	s.AdjustInt("a.u64", -3, false)
	if v, _ := s.GetUint64("a.u64"); v != 7 {
		t.Fatalf("u64 10-3 = %d", v)
	}
	s.Set("a.str", Str("x"))
	if err := s.AdjustInt("a.str", 1, false); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("adjust string: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	s := New()
	tr := s.Track("c.", TrackAdd|TrackModify|TrackDelete|TrackPrefix, 8)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := fmt.Sprintf("c.key%d", g)
			for i := 0; i < 500; i++ {
				s.Set(key, U32(uint32(i)))
				s.Get(key)
				s.Iter("c.")
				if i%50 == 0 {
					s.Delete(key)
				}
			}
		}(g)
	}
	done := make(chan struct{})
	go func() {
		for range tr.Events() {
		}
		close(done)
	}()
	wg.Wait()
	s.Untrack(tr)
	<-done
	if n := len(s.Iter("c.")); n != 4 {
		t.Fatalf("%d keys left, want 4", n)
	}
}

func TestParseDumpLine(t *testing.T) {
	k, ty, v, ok := ParseDumpLine("runtime.members.1.ip (str) = r(0) ip(10.0.0.1) ")
	if !ok || k != "runtime.members.1.ip" || ty != "str" || v != "r(0) ip(10.0.0.1) " {
		t.Fatalf("%q %q %q %v", k, ty, v, ok)
	}
	if _, ty, _, ok := ParseDumpLine("totem.key (bin)"); !ok || ty != "bin" {
		t.Fatal("bin line")
	}
}

func BenchmarkGet(b *testing.B) {
	s := New()
	for i := 0; i < 1000; i++ {
		s.Set(fmt.Sprintf("bench.key.%d", i), U32(uint32(i)))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Get("bench.key.500")
	}
}

func BenchmarkSet(b *testing.B) {
	s := New()
	s.Track("bench.", TrackModify|TrackPrefix, 64)
	b.ResetTimer()
	var i uint32
	for b.Loop() {
		i++
		s.Set("bench.key", U32(i))
	}
}
