package coroconf

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	cmd := exec.Command("sh", filepath.Join(confDir, "record.sh"))
	cmd.Env = append(os.Environ(), "RECORD_OUT="+out)
	if out == "" {
		cmd.Env = os.Environ()
	}
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record.sh: %v\n%s", err, log)
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
