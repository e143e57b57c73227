package node

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/ipc"
)

func reloadEnv() *coroconf.Env {
	return &coroconf.Env{
		Hostname:    "elsewhere",
		LocalAddrs:  []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		Resolve:     func(string) []netip.Addr { return nil },
		LookupUser:  func(string) (uint32, bool) { return 0, false },
		LookupGroup: func(string) (uint32, bool) { return 0, false },
		NoUidgidDir: true,
		ReadFile:    os.ReadFile,
	}
}

// reloadConf renders a udpu corosync.conf for nodes 1..n.
func reloadConf(token int, clusterName, debug string, n int, quorumExtra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: udpu\n\ttoken: %d\n}\n", clusterName, token)
	fmt.Fprintf(&b, "logging {\n\tto_stderr: yes\n\tdebug: %s\n}\n", debug)
	fmt.Fprintf(&b, "quorum {\n\tprovider: corosync_votequorum\n%s}\nnodelist {\n", quorumExtra)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\tnode {\n\t\tname: node%d\n\t\tnodeid: %d\n\t\tring0_addr: 198.18.0.%d\n\t}\n", i, i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

// reloadFixture writes conf, loads it as the running store and returns
// the store and the path.
func reloadFixture(t *testing.T, conf string) (*cmap.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := coroconf.ParseFileEnv(path, reloadEnv())
	if err != nil {
		t.Fatal(err)
	}
	store := cfg.Store()
	_ = store.Set("runtime.members.1.status", cmap.Str("joined"))
	return store, path
}

func getStr(s *cmap.Store, key string) string {
	v, err := s.Get(key)
	if err != nil {
		return "<none>"
	}
	return cmap.FormatEntry(cmap.Entry{Key: key, Value: v}, false)
}

// TestReloadApplies: a new token, logging and quorum settings, a node
// removed and a read-only key changed, with Corosync's outcome.
func TestReloadApplies(t *testing.T) {
	store, path := reloadFixture(t, reloadConf(1000, "alpha", "off", 3, ""))
	pingBefore := getStr(store, "runtime.config.totem.interface.0.knet_ping_timeout")
	if err := os.WriteFile(path, []byte(reloadConf(2000, "beta", "on", 2, "\texpected_votes: 2\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := store.Track("nodelist.", cmap.TrackDelete|cmap.TrackPrefix, 64)
	log, hook := test.NewNullLogger()
	out := reloadStore(store, path, reloadEnv(), log.WithField("subsys", "CFG"))
	if out.Result != ipc.CsOK || out.Config == nil {
		t.Fatalf("reload refused: %+v", out)
	}
	for key, want := range map[string]string{
		"totem.token":                        "totem.token (u32) = 2000",
		"runtime.config.totem.token":         "runtime.config.totem.token (u32) = 2000", // 2 nodes: no per-node addition
		"logging.debug":                      "logging.debug (str) = on",
		"quorum.expected_votes":              "quorum.expected_votes (u32) = 2",
		"totem.cluster_name":                 "totem.cluster_name (str) = alpha",
		"nodelist.node.2.ring0_addr":         "<none>",
		"nodelist.local_node_pos":            "nodelist.local_node_pos (u32) = 0",
		"totem.interface.0.bindnetaddr":      "<none>", // derived at start-up only
		"runtime.members.1.status":           "runtime.members.1.status (str) = joined",
		keyReloadStatus:                      "config.reload_status (i32) = 1",
		keyReloading:                         "config.reload_in_progress (u8) = 0",
		keyTotemReloading:                    "config.totemconfig_reload_in_progress (u8) = 0",
		"runtime.config.totem.consensus":     "runtime.config.totem.consensus (u32) = 2400",
		"runtime.config.totem.token_warning": "runtime.config.totem.token_warning (u32) = 75",
	} {
		if got := getStr(store, key); got != want {
			t.Errorf("%s: got %q, want %q", key, got, want)
		}
	}
	// The knet ping timers follow the token in force before the reload:
	// unchanged now (1650 before and at start), from the new 2000 next time.
	if got := getStr(store, "runtime.config.totem.interface.0.knet_ping_timeout"); got != pingBefore {
		t.Errorf("knet ping timeout after the first reload: %q, was %q", got, pingBefore)
	}
	if out := reloadStore(store, path, reloadEnv(), log.WithField("subsys", "CFG")); out.Result != ipc.CsOK {
		t.Fatalf("second reload: %+v", out)
	}
	for key, want := range map[string]string{
		"runtime.config.totem.interface.0.knet_ping_timeout":  "runtime.config.totem.interface.0.knet_ping_timeout (u32) = 1000",
		"runtime.config.totem.interface.0.knet_ping_interval": "runtime.config.totem.interface.0.knet_ping_interval (u32) = 500",
	} {
		if got := getStr(store, key); got != want {
			t.Errorf("second reload: %s: got %q, want %q", key, got, want)
		}
	}
	if len(out.Kept) != 1 || out.Kept[0] != "totem.cluster_name" {
		t.Errorf("kept read-only keys: %v", out.Kept)
	}
	found := false
	for _, e := range hook.AllEntries() {
		if e.Message == "Modified entry 'totem.cluster_name' in corosync.conf cannot be changed at run-time" {
			found = true
		}
	}
	if !found {
		t.Errorf("no notice for the read-only key: %v", hook.AllEntries())
	}
	deleted := map[string]bool{}
drain:
	for {
		select {
		case ev := <-tr.Events():
			deleted[ev.Key] = true
		default:
			break drain
		}
	}
	if !deleted["nodelist.node.2.nodeid"] || deleted["nodelist.node.1.nodeid"] {
		t.Errorf("delete notifications: %v", deleted)
	}
}

// reloadWith rewrites the file to conf and reloads it into store.
func reloadWith(t *testing.T, store *cmap.Store, path, conf string) (reloadOutcome, *test.Hook) {
	t.Helper()
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log, hook := test.NewNullLogger()
	out := reloadStore(store, path, reloadEnv(), log.WithField("subsys", "CFG"))
	if out.Result != ipc.CsErrInvalidParm || out.Config != nil {
		t.Fatalf("bad file accepted: %+v", out)
	}
	return out, hook
}

// TestReloadParseError: a file that does not parse is refused and, as in
// Corosync, only the totem reload flag is left behind (set).
func TestReloadParseError(t *testing.T) {
	store, path := reloadFixture(t, reloadConf(1000, "alpha", "off", 3, ""))
	before := store.Iter("")
	_, hook := reloadWith(t, store, path, "totem {\n\tversion: 2\n")
	if got := getStr(store, keyTotemReloading); got != "config.totemconfig_reload_in_progress (u8) = 1" {
		t.Errorf("%s", got)
	}
	if store.Has(keyReloadStatus) || store.Has(keyReloading) {
		t.Error("reload status keys written for a parse error")
	}
	if store.Len() != len(before)+1 {
		t.Errorf("store changed: %d keys, was %d", store.Len(), len(before))
	}
	if e := hook.LastEntry(); e == nil || e.Level != logrus.ErrorLevel || !strings.HasPrefix(e.Message, "Unable to reload config file: parser error: ") {
		t.Errorf("log: %v", e)
	}
}

// TestReloadInvalidConfig: a file that parses but fails the totem checks
// (here: this node left the nodelist) reports CS_ERR_INVALID_PARAM in
// config.reload_status and changes nothing else.
func TestReloadInvalidConfig(t *testing.T) {
	store, path := reloadFixture(t, reloadConf(1000, "alpha", "off", 3, ""))
	conf := strings.Replace(reloadConf(1000, "alpha", "off", 3, ""), "198.18.0.1\n", "198.18.0.9\n", 1)
	_, hook := reloadWith(t, store, path, conf)
	if got := getStr(store, keyReloadStatus); got != "config.reload_status (i32) = 7" {
		t.Errorf("%s", got)
	}
	if got := getStr(store, "nodelist.node.0.ring0_addr"); got != "nodelist.node.0.ring0_addr (str) = 198.18.0.1" {
		t.Errorf("nodelist changed: %s", got)
	}
	if e := hook.LastEntry(); e == nil || !strings.HasPrefix(e.Message, "Configuration is not valid: ") {
		t.Errorf("log: %v", e)
	}
}
