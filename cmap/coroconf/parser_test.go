package coroconf

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/cmap"
)

// parseKeys runs only the line parser and the section typing (no totem
// or logging checks) and returns the resulting store.
func parseKeys(t *testing.T, text string) (*cmap.Store, *parseErr) {
	t.Helper()
	m := cmap.New()
	p := &parser{file: "t.conf", src: lineSource{data: []byte(text)}, h: &mainHandler{m: m, env: fuzzEnv()}}
	return m, p.parseSection("", 0, stNormal)
}

func wantKey(t *testing.T, m *cmap.Store, key string, want cmap.Value) {
	t.Helper()
	got, err := m.Get(key)
	if err != nil {
		t.Fatalf("%s: %v (keys: %v)", key, err, m.Iter(""))
	}
	if !got.Equal(want) {
		t.Fatalf("%s = %s %q, want %s %q", key, got.Type, cmap.FormatValue(got), want.Type, cmap.FormatValue(want))
	}
}

func TestLexerRules(t *testing.T) {
	m, err := parseKeys(t, "a.b {\n"+
		"  key:value\n"+ // no blank needed after ':'
		"  k2 : v : w  \n"+ // first ':' splits; value keeps the rest
		"  k3:: x\n"+ // "key:: x": value starts at the second ':'
		"  k4: x # not a comment\n"+
		"\t# a comment\n"+
		"  empty:\n"+
		"}\n")
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, m, "a.b.key", cmap.Str("value"))
	wantKey(t, m, "a.b.k2", cmap.Str("v : w"))
	wantKey(t, m, "a.b.k3", cmap.Str(": x"))
	wantKey(t, m, "a.b.k4", cmap.Str("x # not a comment"))
	wantKey(t, m, "a.b.empty", cmap.Str(""))
}

func TestLexerErrors(t *testing.T) {
	long := strings.Repeat("x", 500)
	cases := []struct {
		text string
		line int
		msg  string
	}{
		{"totem {\n node { a: b }\n}\n", 2, "Extra characters after opening bracket '{'"},
		{"{\n}\n", 1, "Missing section name before opening bracket '{'"},
		{"a {\n} x\n", 2, "Extra characters before or after closing bracket '}'"},
		{"}\n", 1, "Unexpected closing brace"},
		{"a {\nb: c\n\n", 3, "Missing closing brace"},
		{"just words\n", 1, "Line is not opening or closing section or key value"},
		{"k: " + strings.Repeat("v", 508) + "\n", 1, "Line too long"}, // 511 chars + newline
		{"ab: c\n", 1, `Can't store key "ab" into icmap, returned error is CS_ERR_NAME_TOO_LONG`},
		{"my key: c\n", 1, `Can't store key "my key" into icmap, returned error is CS_ERR_NAME_TOO_LONG`},
		{"a {\n" + long[:253] + ": x\n}\n", 2, "New key makes total cmap path too long"},
		{"a {\n" + long[:253] + " {\n}\n}\n", 2, "Start of section makes total cmap path too long"},
		{"quorum {\n votes: 1x\n}\n", 2, `Value of key "quorum.votes" is expected to be integer in range (0..4294967295), but "1x" was given`},
		{"totem {\n interface {\n  mcastport: 65536\n }\n}\n", 3, `Value of key "totem.interface.mcastport" is expected to be integer in range (0..65535), but "65536" was given`},
		{"totem {\n interface {\n  member {\n   addr: x\n  }\n }\n}\n", 4, "Only memberaddr is allowed in member section"},
		{"logging {\n logging_daemon {\n  debug: on\n }\n}\n", 4, "No name key in logging_daemon directive"},
		{"system {\n sched_rr: maybe\n}\n", 2, "Invalid system.sched_rr value"},
		{"totem {\n knet_compression_model: none\n}\n", 2, "Invalid compression model. Should be zlib, lz4, lz4hc, lzo2, lzma, bzip2 or zstd"},
	}
	for _, c := range cases {
		_, err := parseKeys(t, c.text)
		if err == nil || err.line != c.line || err.msg != c.msg {
			t.Errorf("%q: got %+v, want line %d %q", c.text, err, c.line, c.msg)
		}
	}
}

func TestLineLengthBoundary(t *testing.T) {
	// 510 characters plus newline fit fgets's 512-byte buffer
	ok := "key: " + strings.Repeat("v", 505) + "\n"
	if _, err := parseKeys(t, ok); err != nil {
		t.Fatalf("510-char line rejected: %+v", err)
	}
	// the last line may lack its newline if it is shorter than 511
	if _, err := parseKeys(t, "key: "+strings.Repeat("v", 505)); err != nil {
		t.Fatalf("last line without newline rejected: %+v", err)
	}
	if _, err := parseKeys(t, "key: "+strings.Repeat("v", 506)); err == nil || err.msg != "Line too long" {
		t.Fatalf("511-char last line: %+v", err)
	}
}

func TestSectionTyping(t *testing.T) {
	m, err := parseKeys(t, `totem {
	token: 5000
	config_version: -1
	knet_compression_level: -2
	interface {
		linknumber: 1
		mcastport: 6000
		ttl: 3
		member {
			memberaddr: 198.18.0.1
		}
		member {
			memberaddr: 198.18.0.2
		}
		other: thing
	}
}
quorum {
	two_node: +1
	device {
		master_wins: 1
		two_node: 1
	}
}
logging {
	logger_subsys {
		subsys: CPG
		debug: on
		debug: off
	}
}
resources {
	watchdog_timeout: 9
	system {
		memory_used {
			poll_period: 5000
		}
	}
}
nodelist {
	node {
		nodeid: 7
		quorum_votes: 2
		ring0_addr: x
	}
	node {
		name: second
	}
	ring0_addr: stray
}
`)
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, m, "totem.token", cmap.U32(5000))
	wantKey(t, m, "totem.config_version", cmap.U64(18446744073709551615)) // strtoull("-1")
	wantKey(t, m, "totem.knet_compression_level", cmap.I32(-2))
	wantKey(t, m, "totem.interface.1.mcastport", cmap.U16(6000))
	wantKey(t, m, "totem.interface.1.ttl", cmap.U8(3))
	// members come back newest first, as from coroparse's list
	wantKey(t, m, "totem.interface.1.member.0", cmap.Str("198.18.0.2"))
	wantKey(t, m, "totem.interface.1.member.1", cmap.Str("198.18.0.1"))
	wantKey(t, m, "totem.interface.other", cmap.Str("thing"))
	wantKey(t, m, "quorum.two_node", cmap.U8(1))
	wantKey(t, m, "quorum.device.master_wins", cmap.U8(1))
	wantKey(t, m, "quorum.device.two_node", cmap.Str("1"))
	// a repeated logger_subsys key: the first one wins
	wantKey(t, m, "logging.logger_subsys.CPG.debug", cmap.Str("on"))
	wantKey(t, m, "logging.logger_subsys.CPG.subsys", cmap.Str("CPG"))
	wantKey(t, m, "resources.watchdog_timeout", cmap.U32(9))
	wantKey(t, m, "resources.system.memory_used.poll_period", cmap.U64(5000))
	wantKey(t, m, "nodelist.node.0.nodeid", cmap.U32(7))
	wantKey(t, m, "nodelist.node.0.quorum_votes", cmap.U32(2))
	wantKey(t, m, "nodelist.node.1.name", cmap.Str("second"))
	wantKey(t, m, "nodelist.ring0_addr", cmap.Str("stray"))
	if m.Has("totem.interface.linknumber") {
		t.Error("linknumber must not be stored")
	}
}

func TestTimingDerivation(t *testing.T) {
	conf := func(extra string, nodes int) string {
		var b strings.Builder
		b.WriteString("totem {\n version: 2\n transport: udpu\n" + extra + "}\nnodelist {\n")
		for i := 1; i <= nodes; i++ {
			b.WriteString(" node {\n  ring0_addr: 198.18.0." + string(rune('0'+i)) + "\n  nodeid: " + string(rune('0'+i)) + "\n }\n")
		}
		b.WriteString("}\n")
		return b.String()
	}
	c, err := Parse("t.conf", []byte(conf("", 2)), fuzzEnv())
	if err != nil {
		t.Fatal(err)
	}
	want := Timing{Token: 3000, TokenWarning: 75, TokenRetransmit: 714, Hold: 561, TokenRetransmitsBeforeLoss: 4,
		Join: 50, Consensus: 3600, Merge: 200, Downcheck: 1000, FailRecvConst: 2500, SeqnoUnchangedConst: 30,
		MaxNetworkDelay: 50, WindowSize: 50, MaxMessages: 17, MissCountConst: 5, BlockUnlistedIPs: true}
	if c.Timing != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c.Timing, want)
	}
	if c.NetMTU != 1500 || c.NodeID != 1 || c.Transport != TransportUDPU {
		t.Fatalf("mtu %d node %d transport %s", c.NetMTU, c.NodeID, c.Transport)
	}
	// 5 nodes: token grows by 3 coefficients
	c, err = Parse("t.conf", []byte(conf(" token: 1000\n token_coefficient: 100\n", 5)), fuzzEnv())
	if err != nil {
		t.Fatal(err)
	}
	if c.Timing.Token != 1300 || c.Timing.Consensus != 1560 || c.Timing.TokenRetransmit != 309 {
		t.Fatalf("coefficient: %+v", c.Timing)
	}
	_, err = Parse("t.conf", []byte(conf(" token: 1000\n consensus: 40\n join: 50\n", 2)), fuzzEnv())
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 5 || !strings.Contains(ce.Msg, "may not be less than join timeout") {
		t.Fatalf("consensus < join: %v", err)
	}
}

func TestMcastAddrFromClusterName(t *testing.T) {
	// "gotest" gives 239.192.26.120 on a real udp cluster (research notes)
	if got := clusterMcastAddr("gotest", 0, ipv4).String(); got != "239.192.26.120" {
		t.Fatalf("gotest -> %s", got)
	}
	if got := clusterMcastAddr("gotest", 0, ipv6).String(); got != "ff15::1a5e" {
		t.Fatalf("gotest v6 -> %s", got)
	}
}

func TestInetAton(t *testing.T) {
	for in, want := range map[string]string{"127.1": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1", "010.0.0.1": "8.0.0.1", "1": "0.0.0.1"} {
		a, ok := parseInetAton(in)
		if !ok || a.String() != want {
			t.Errorf("%s -> %v %v, want %s", in, a, ok, want)
		}
	}
	for _, bad := range []string{"", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "a.b.c.d", "1..2"} {
		if _, ok := parseInetAton(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
