package coroconf

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/cmap"
)

func twoNodes(a, b string) string {
	return "totem {\n version: 2\n transport: udpu\n}\nnodelist {\n" +
		" node {\n  " + a + "\n  nodeid: 1\n }\n" +
		" node {\n  " + b + "\n  nodeid: 2\n }\n}\n"
}

func TestFindLocalNode(t *testing.T) {
	cases := []struct {
		name, conf, host string
		resolve          map[string]string
		wantPos          uint32
	}{
		{"exact host name", twoNodes("name: a\n  ring0_addr: 198.18.0.5", "name: rfhost\n  ring0_addr: 198.18.0.6"), "rfhost", nil, 1},
		{"host name without domain", twoNodes("name: rfhost\n  ring0_addr: 198.18.0.5", "name: b\n  ring0_addr: 198.18.0.6"), "rfhost.example.org", nil, 0},
		{"configured name with domain", twoNodes("name: x\n  ring0_addr: 198.18.0.5", "name: rfhost.example.org\n  ring0_addr: 198.18.0.6"), "rfhost", nil, 1},
		{"local address", twoNodes("ring0_addr: 198.18.0.5", "ring0_addr: 198.18.0.1"), "elsewhere", nil, 1},
		{"inet_aton form of a local address", twoNodes("ring0_addr: 198.18.0.5", "ring0_addr: 198.18.1"), "elsewhere", nil, 1},
		{"resolved name", twoNodes("ring0_addr: node-b", "ring0_addr: node-a"), "elsewhere",
			map[string]string{"node-a": "198.18.0.1", "node-b": "198.18.0.2"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := fuzzEnv()
			env.Hostname = c.host
			env.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.1")}
			env.Resolve = func(n string) []netip.Addr {
				if a, ok := c.resolve[n]; ok {
					return []netip.Addr{netip.MustParseAddr(a)}
				}
				return nil
			}
			// the node ring0 addresses must parse for the config to pass
			cfg, err := Parse("t.conf", []byte(c.conf), env)
			if err != nil {
				// addresses that are not local are fine for -t
				t.Fatalf("rejected: %v", err)
			}
			if cfg.LocalPos != c.wantPos {
				t.Fatalf("local node %d, want %d", cfg.LocalPos, c.wantPos)
			}
			if cfg.NodeID != c.wantPos+1 {
				t.Fatalf("node id %d", cfg.NodeID)
			}
		})
	}
}

// When no node is local, corosync still takes the last nodelist entry for
// bindnetaddr and then fails the local-node check.
func TestNoLocalNodeFallback(t *testing.T) {
	env := fuzzEnv()
	env.Hostname = "elsewhere"
	_, err := Parse("t.conf", []byte(twoNodes("ring0_addr: 198.18.0.5", "ring0_addr: 198.18.0.6")), env)
	var ce *Error
	if !errors.As(err, &ce) || ce.Corosync != "parse error in config: No valid name found for local host" || ce.Line != 5 {
		t.Fatalf("got %v", err)
	}
	_, err = Parse("t.conf", []byte(twoNodes("ring0_addr: 198.18.0.5", "ring0_addr: not-an-address")), env)
	if !errors.As(err, &ce) || ce.Corosync != "failed to parse bindnet address 'not-an-address'" {
		t.Fatalf("fallback to the last node: %v", err)
	}
}

func TestAutoNodeIDAndReadOnlyStore(t *testing.T) {
	env := fuzzEnv()
	cfg, err := Parse("t.conf", []byte("totem {\n version: 2\n transport: udpu\n}\nnodelist {\n node {\n  ring0_addr: 198.18.0.1\n }\n}\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 0xC6120001 {
		t.Fatalf("auto node id %#x", cfg.NodeID)
	}
	s := cfg.Store()
	if v, err := s.GetUint32("nodelist.node.0.nodeid"); err != nil || v != 0xC6120001 {
		t.Fatalf("generated id not written back: %d %v", v, err)
	}
	if err := s.ClientSet("nodelist.node.0.nodeid", cmap.U32(5)); !errors.Is(err, cmap.ErrReadOnly) {
		t.Fatalf("nodelist must be read-only for clients: %v", err)
	}
	if err := s.ClientSet("totem.token", cmap.U32(5000)); err != nil {
		t.Fatalf("totem.token is writable: %v", err)
	}
	if !strings.HasPrefix(cmap.FormatEntry(cmap.Entry{Key: "k.k", Value: cmap.U32(cfg.NodeID)}, false), "k.k (u32) = 3323068417") {
		t.Fatal("format")
	}
}
