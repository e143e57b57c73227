package coroconf

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ringfence/ringfence/cmap"
)

// confDir holds the corosync.conf goldens recorded by record.sh.
var confDir = filepath.Join("..", "..", "testdata", "conf")

// goldenEnv describes the sandbox record.sh runs corosync in: host name
// rfhost, lo (127.0.0.1, ::1) and a veth with 198.18.0.1 and 198.18.1.1,
// no DNS, the uidgid.d directory beside the files.
func goldenEnv() *Env {
	env := DefaultEnv()
	env.Hostname = "rfhost"
	env.LocalAddrs = []netip.Addr{
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"),
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.1.1"),
	}
	env.Resolve = func(string) []netip.Addr { return nil }
	env.ReverseNames = nil
	env.UidgidDir = filepath.Join(confDir, "uidgid.d")
	// the sandbox has an empty /etc/corosync: no authkey
	env.ReadFile = func(p string) ([]byte, error) {
		if p == env.AuthKeyPath {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.ENOENT}
		}
		return os.ReadFile(p)
	}
	return env
}

// goldenExcluded are the keys record.sh filters out of the live dump:
// state of running services and of this particular run, not config.
var goldenExcluded = regexp.MustCompile(`^(runtime\.members\.|runtime\.services\.|runtime\.votequorum\.|runtime\.blackbox\.|runtime\.force_gather$|internal_configuration\.|resources\.|uidgid\.(uid|gid)\.)`)

type verdict struct {
	exit   int
	output string
}

func readVerdict(t *testing.T, path string) verdict {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing verdict (run testdata/conf/record.sh as root): %v", err)
	}
	first, rest, _ := strings.Cut(string(data), "\n")
	code, err := strconv.Atoi(strings.TrimPrefix(first, "exit "))
	if err != nil {
		t.Fatalf("%s: bad first line %q", path, first)
	}
	return verdict{code, rest}
}

func ourDump(c *Config) string {
	var buf bytes.Buffer
	var kept []cmap.Entry
	for _, e := range c.Entries {
		if !goldenExcluded.MatchString(e.Key) {
			kept = append(kept, e)
		}
	}
	cmap.Dump(&buf, kept, false)
	return buf.String()
}

func confFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(confDir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no config files in %s", confDir)
	}
	return files
}

// checkAgainst compares our result for one file with a corosync verdict
// and, for accepted files, with a cmap dump.
func checkAgainst(t *testing.T, base string, cfg *Config, err error, v verdict, golden string) {
	t.Helper()
	if v.exit == 0 {
		if err != nil {
			t.Fatalf("corosync accepts %s, we reject: %v", base, err)
		}
		if got := ourDump(cfg); got != golden {
			t.Errorf("cmap keys differ from corosync's for %s:\n%s", base, lineDiff(golden, got))
		}
		return
	}
	if err == nil {
		t.Fatalf("corosync rejects %s (exit %d: %s), we accept", base, v.exit, strings.TrimSpace(v.output))
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error is not *Error: %v", err)
	}
	if ce.Line <= 0 || !strings.HasPrefix(err.Error(), base+":"+strconv.Itoa(ce.Line)+": ") {
		t.Errorf("error %q lacks a file:line prefix", err)
	}
	if v.exit >= 128 {
		// corosync 3.1.7 died on a signal: it aborts on an assert for a
		// non-numeric u64 value (totem.config_version) and crashes on some
		// malformed logging sections; we reject those with a message.
		return
	}
	if ce.Exit != v.exit {
		t.Errorf("exit status for %s: corosync %d, ours %d", base, v.exit, ce.Exit)
	}
	if strings.TrimSpace(v.output) == "" {
		// corosync printed nothing: the file turned to_stderr off, so once
		// the logging section was applied its message went to the log
		// file or syslog. Only the exit status above is observable.
		return
	}
	if !strings.Contains(v.output, ce.Corosync) {
		t.Errorf("message differs for %s:\n corosync: %s\n ours:     %s", base, strings.TrimSpace(v.output), ce.Corosync)
	}
}

func TestGoldenConfigs(t *testing.T) {
	accepted, rejected := 0, 0
	for _, path := range confFiles(t) {
		base := filepath.Base(path)
		name := strings.TrimSuffix(base, ".conf")
		t.Run(name, func(t *testing.T) {
			v := readVerdict(t, filepath.Join(confDir, name+".verdict"))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden := ""
			if v.exit == 0 {
				g, err := os.ReadFile(filepath.Join(confDir, name+".golden"))
				if err != nil {
					t.Fatalf("accepted file without golden dump: %v", err)
				}
				golden = string(g)
				accepted++
			} else {
				rejected++
			}
			cfg, perr := Parse(base, data, goldenEnv())
			checkAgainst(t, base, cfg, perr, v, golden)
		})
	}
	t.Logf("%d accepted and %d rejected files compared with corosync 3.1.7", accepted, rejected)
	if rejected < 15 {
		t.Errorf("only %d error cases, want at least 15", rejected)
	}
}

// lineDiff lists lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	var out []string
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGoldenWarnings: the warnings corosync -t logged for accepted files
// are the ones we report.
func TestGoldenWarnings(t *testing.T) {
	for _, path := range confFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".conf")
		v := readVerdict(t, filepath.Join(confDir, name+".verdict"))
		if v.exit != 0 {
			continue
		}
		data, _ := os.ReadFile(path)
		cfg, err := Parse(filepath.Base(path), data, goldenEnv())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		for _, l := range strings.Split(v.output, "\n") {
			if m, ok := strings.CutPrefix(l, "warning [MAIN  ] "); ok {
				want = append(want, m)
			}
		}
		if strings.Join(want, "|") != strings.Join(cfg.Warnings, "|") {
			t.Errorf("%s warnings:\n corosync %q\n ours     %q", name, want, cfg.Warnings)
		}
	}
}
