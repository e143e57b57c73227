package node

import (
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/votequorum"
)

// watchFixture is a machine of node 1 in a 3-node nodelist and a store
// holding the same settings, watched as the daemon watches it.
func watchFixture(t *testing.T, quorum map[string]cmap.Value) (*votequorum.Machine, *cmap.Store, *configWatch) {
	t.Helper()
	store := cmap.New()
	for i, id := range []uint32{1, 2, 3} {
		_ = store.Set("nodelist.node."+string(rune('0'+i))+".nodeid", cmap.U32(id))
	}
	_ = store.Set("quorum.provider", cmap.Str("corosync_votequorum"))
	for k, v := range quorum {
		_ = store.Set(k, v)
	}
	cfg, ok := storeVoteConfig(store, Settings{NodeID: 1})
	if !ok {
		t.Fatal("storeVoteConfig: not votequorum")
	}
	cfg.EVStore = &votequorum.MemoryEVStore{}
	m, err := votequorum.New(cfg, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	m.Ready()
	w := &configWatch{}
	w.start(store)
	return m, store, w
}

// sent lists the machine's queued messages as strings.
func sent(m *votequorum.Machine) []string {
	var out []string
	for _, msg := range m.Ready().Messages {
		out = append(out, msg.String())
	}
	return out
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, s := range msgs {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestConfigWatchCancelWaitForAll: setting quorum.cancel_wait_for_all
// sends the cancel once and resets the key, and the reset does not make a
// second reload.
func TestConfigWatchCancelWaitForAll(t *testing.T) {
	m, store, w := watchFixture(t, map[string]cmap.Value{"quorum.wait_for_all": cmap.U8(1)})
	_ = store.ClientSet(cancelWFAKey, cmap.U8(1))
	w.apply(m, store)
	msgs := sent(m)
	if v, _ := store.GetUint8(cancelWFAKey); v != 0 {
		t.Errorf("%s = %d after the cancel, want 0", cancelWFAKey, v)
	}
	// Corosync: the nested reload's two NODEINFOs, then the cancel.
	if countPrefix(msgs, "NODEINFO") != 2 || len(msgs) != 3 || msgs[2] != "RECONFIGURE nodeid=1 cancel_wfa=0" {
		t.Fatalf("sent %q", msgs)
	}
	w.apply(m, store)
	if again := sent(m); len(again) != 0 {
		t.Errorf("the key's own reset reloaded again: %q", again)
	}
}

// TestConfigWatchExpectedVotes: a new quorum.expected_votes is announced
// with a RECONFIGURE; a key outside quorum.*/nodelist.* does nothing.
func TestConfigWatchExpectedVotes(t *testing.T) {
	m, store, w := watchFixture(t, nil)
	_ = store.Set("totem.token", cmap.U32(5000))
	w.apply(m, store)
	if msgs := sent(m); len(msgs) != 0 {
		t.Fatalf("totem.token made votequorum send %q", msgs)
	}
	_ = store.ClientSet("quorum.expected_votes", cmap.U32(5))
	w.apply(m, store)
	msgs := sent(m)
	if countPrefix(msgs, "RECONFIGURE nodeid=1 expected_votes=5") != 1 {
		t.Fatalf("expected votes 5 not announced: %q", msgs)
	}
}

// TestConfigWatchFullReload: keys changed during a reload are refreshed
// once when the flag drops, and not at all when the reload failed.
func TestConfigWatchFullReload(t *testing.T) {
	for _, tc := range []struct {
		status int32
		want   bool
	}{{csOK, true}, {6 /* CS_ERR_INVALID_PARAM */, false}} {
		m, store, w := watchFixture(t, nil)
		_ = store.Set(keyTotemReloading, cmap.U8(1))
		_ = store.Set("quorum.expected_votes", cmap.U32(4))
		_ = store.Set("quorum.two_node", cmap.U8(0))
		w.apply(m, store)
		if msgs := sent(m); len(msgs) != 0 {
			t.Fatalf("refreshed during the reload: %q", msgs)
		}
		_ = store.Set(keyReloadStatus, cmap.I32(tc.status))
		_ = store.Set(keyTotemReloading, cmap.U8(0))
		w.apply(m, store)
		msgs := sent(m)
		// One refresh: this node's and the device's NODEINFO and the
		// new expected votes, once.
		want := 0
		if tc.want {
			want = 1
		}
		if countPrefix(msgs, "RECONFIGURE nodeid=1 expected_votes=4") != want || countPrefix(msgs, "NODEINFO nodeid=1 ") != want {
			t.Errorf("status %d: sent %q, want %d refresh", tc.status, msgs, want)
		}
	}
}
