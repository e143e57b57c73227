package coroconf

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var updateGoldens = flag.Bool("update", false, "re-record testdata/conf goldens with the installed corosync (root)")

// liveCorosyncReady skips unless this machine can run corosync in a
// network namespace.
func liveCorosyncReady(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real corosync daemons; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and corosync")
	}
	for _, tool := range []string{"corosync", "corosync-cmapctl", "ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages corosync, iproute2, util-linux)", tool)
		}
	}
}

// TestLiveCorosyncAgrees runs record.sh against the installed corosync into
// a temporary directory and checks our parser against those fresh
// verdicts and cmap dumps. With -update it rewrites the committed goldens.
func TestLiveCorosyncAgrees(t *testing.T) {
	liveCorosyncReady(t)
	out := t.TempDir()
	if *updateGoldens {
		out = ""
	}
	var log []byte
	if out == "" {
		log = runRecord(t)
	} else {
		log = runRecord(t, "RECORD_OUT="+out)
	}
	if strings.Contains(string(log), "did not come up") {
		t.Fatalf("a corosync did not start:\n%s", log)
	}
	if out == "" {
		out = confDir
	}
	for _, path := range confFiles(t) {
		base := filepath.Base(path)
		name := strings.TrimSuffix(base, ".conf")
		t.Run(name, func(t *testing.T) {
			v := readVerdict(t, filepath.Join(out, name+".verdict"))
			golden := ""
			if v.exit == 0 {
				g, err := os.ReadFile(filepath.Join(out, name+".golden"))
				if err != nil {
					t.Fatal(err)
				}
				golden = string(g)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, perr := Parse(base, data, goldenEnv())
			checkAgainst(t, base, cfg, perr, v, golden)
		})
	}
}

// TestLiveDifferential mutates the golden files (drop, repeat or swap
// lines, replace values) with a fixed seed and checks that corosync -t and
// our parser give the same verdict and message on every variant.
func TestLiveDifferential(t *testing.T) {
	liveCorosyncReady(t)
	in := t.TempDir()
	// RF_DIFF_SEED and RF_DIFF_PER_FILE widen the search when exploring.
	seed, perFile := uint64(1), 3
	if v, err := strconv.ParseUint(os.Getenv("RF_DIFF_SEED"), 10, 64); err == nil {
		seed = v
	}
	if v, err := strconv.Atoi(os.Getenv("RF_DIFF_PER_FILE")); err == nil && v > 0 {
		perFile = v
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	values := []string{"0", "-1", "4294967296", "yes", "", "x y", "198.18.0.1", "::1", "udp", "knet", "ipv6", "1", "abc", "300", "{", "}"}
	var names []string
	for _, path := range confFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(path), ".conf")
		for k := 0; k < perFile; k++ {
			lines := strings.Split(string(data), "\n")
			i := rng.IntN(len(lines))
			switch rng.IntN(6) {
			case 0:
				lines = append(lines[:i], lines[i+1:]...)
			case 1:
				lines = append(lines[:i+1], lines[i:]...)
			case 2:
				j := rng.IntN(len(lines))
				lines[i], lines[j] = lines[j], lines[i]
			case 3:
				if c := strings.IndexByte(lines[i], ':'); c >= 0 {
					lines[i] = lines[i][:c+1] + " " + values[rng.IntN(len(values))]
				}
			case 4:
				extra := []string{"\ttransport: udp", "\ttransport: knet", "\tip_version: ipv6", "\tnodeid: 9", "\tname: rfhost",
					"\tring1_addr: 198.18.1.1", "\tclear_node_high_bit: yes", "\tsecauth: on", "\tlink_mode: rr", "\tbroadcast: yes",
					"\tinterface {\n\t\tbindnetaddr: 198.18.0.0\n\t}", "\ttoken: 40", "\ttoken_warning: 101", "\thold: 5"}
				lines = append(lines[:i], append([]string{extra[rng.IntN(len(extra))]}, lines[i:]...)...)
			case 5:
				lines[i] = strings.ReplaceAll(lines[i], "198.18.0.1", "198.18.0.77")
			}
			name := fmt.Sprintf("%s-m%d.conf", base, k)
			if err := os.WriteFile(filepath.Join(in, name), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}
	out := t.TempDir()
	// RF_DIFF_DUMPS=1 also starts corosync on every accepted variant and
	// compares the cmap dumps (slow: a few seconds per variant).
	withDumps := os.Getenv("RF_DIFF_DUMPS") == "1"
	recEnv := []string{"RECORD_IN=" + in, "RECORD_OUT=" + out}
	if !withDumps {
		recEnv = append(recEnv, "RECORD_VERDICT_ONLY=1")
	}
	runRecord(t, recEnv...)
	env := goldenEnv()
	env.UidgidDir = filepath.Join(in, "uidgid.d")
	agree := 0
	for _, name := range names {
		v := readVerdict(t, filepath.Join(out, strings.TrimSuffix(name, ".conf")+".verdict"))
		data, _ := os.ReadFile(filepath.Join(in, name))
		cfg, err := Parse(name, data, env)
		ok := t.Run(name, func(t *testing.T) {
			if v.exit == 0 {
				if err != nil {
					t.Fatalf("corosync accepts, we reject: %v\n%s", err, data)
				}
				if withDumps {
					g, gerr := os.ReadFile(filepath.Join(out, strings.TrimSuffix(name, ".conf")+".golden"))
					if gerr != nil {
						t.Fatal(gerr)
					}
					checkAgainst(t, name, cfg, err, v, string(g))
				}
				return
			}
			checkAgainst(t, name, cfg, err, v, "")
		})
		if ok {
			agree++
		} else {
			t.Logf("%s was:\n%s", name, data)
		}
	}
	t.Logf("%d of %d mutated configs get corosync's verdict and message", agree, len(names))
}

// runRecord runs record.sh with extra environment. It is stopped with
// SIGTERM (so its trap removes the namespace and daemons) well before the
// test binary's own deadline would kill everything without cleanup.
func runRecord(t *testing.T, extraEnv ...string) []byte {
	t.Helper()
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(mustAbs(t, confDir), "record.sh"))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	cmd.Env = append(os.Environ(), extraEnv...)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record.sh: %v\n%s", err, log)
	}
	return log
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
