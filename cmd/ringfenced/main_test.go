package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var confDir = filepath.Join("..", "..", "testdata", "conf")

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = cli(args, &o, &e)
	return code, o.String(), e.String()
}

// writeConf puts a config in a temporary directory so the machine's real
// uidgid.d and addresses do not matter more than necessary.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A config every machine accepts: the local node is 127.0.0.1.
const loopbackConf = `totem {
	version: 2
	cluster_name: clitest
	transport: udpu
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
}
`

func TestTestOnlyAccepts(t *testing.T) {
	code, _, stderr := runCLI("-t", "-c", writeConf(t, loopbackConf))
	if code != 0 || !strings.Contains(stderr, "Corosync Cluster Engine exiting normally") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestTestOnlyRejectsWithFileLine(t *testing.T) {
	path := writeConf(t, "totem {\n\tversion: 2\n\tnode { ring0_addr: x }\n}\n")
	code, _, stderr := runCLI("-t", "-c", path)
	want := path + ":3: Extra characters after opening bracket '{'\n"
	if code != 8 || stderr != want {
		t.Fatalf("exit %d, stderr %q, want 8 and %q", code, stderr, want)
	}
}

func TestLoggingErrorExitsSeven(t *testing.T) {
	path := writeConf(t, loopbackConf+"logging {\n\tto_syslog: perhaps\n}\n")
	code, _, stderr := runCLI("-t", "-c", path)
	if code != 7 || !strings.Contains(stderr, path+":13: unknown value for to_syslog") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestPrintCmap(t *testing.T) {
	code, stdout, stderr := runCLI("-c", writeConf(t, loopbackConf), "--print-cmap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, line := range []string{
		"nodelist.local_node_pos (u32) = 0",
		"runtime.config.totem.token (u32) = 3000",
		"totem.cluster_name (str) = clitest",
		"totem.interface.0.bindnetaddr (str) = 127.0.0.1",
		"totem.version (u32) = 2",
	} {
		if !strings.Contains(stdout, line+"\n") {
			t.Errorf("missing %q in:\n%s", line, stdout)
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] >= lines[i] {
			t.Fatalf("not sorted: %q before %q", lines[i-1], lines[i])
		}
	}
}

// knet (also Corosync's default transport) is refused as a bad
// configuration, whether testing it (-t) or starting (-f), with the
// file's name and the reason; --print-cmap still shows it.
func TestKnetRefusedAsBadConfig(t *testing.T) {
	knet := strings.Replace(loopbackConf, "transport: udpu", "transport: knet", 1)
	noTransport := strings.Replace(loopbackConf, "\ttransport: udpu\n", "", 1)
	for _, conf := range []string{knet, noTransport} {
		path := writeConf(t, conf)
		for _, mode := range []string{"-t", "-f"} {
			code, _, stderr := runCLI(mode, "-c", path)
			if code != exitMainConfig || !strings.Contains(stderr, path+`: totem.transport "knet" is not supported by ringfenced (use udpu or udp)`) {
				t.Errorf("%s: exit %d, stderr %q", mode, code, stderr)
			}
			if strings.Contains(stderr, "exiting normally") {
				t.Errorf("%s: claims success: %q", mode, stderr)
			}
		}
		if code, stdout, _ := runCLI("--print-cmap", "-c", path); code != 0 || !strings.Contains(stdout, "totem.transport (str) = knet\n") && conf == knet {
			t.Errorf("--print-cmap: exit %d\n%s", code, stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI("-v")
	if code != 0 || !strings.Contains(stdout, "3.1.7") {
		t.Fatalf("exit %d, %q", code, stdout)
	}
}

func TestMissingFile(t *testing.T) {
	code, _, stderr := runCLI("-t", "-c", filepath.Join(t.TempDir(), "nope.conf"))
	if code != 8 || !strings.Contains(stderr, "nope.conf:0: cannot read") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestBadFlag(t *testing.T) {
	if code, _, _ := runCLI("-x"); code != 2 {
		t.Fatalf("exit %d for unknown flag", code)
	}
}
