package scheduler

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repoRoot walks up to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func readBaseline(t *testing.T, root string) int {
	f, err := os.Open(filepath.Join(root, "testdata", "scheduler", "baseline.txt"))
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "both=") {
			n, err := strconv.Atoi(strings.TrimPrefix(line, "both="))
			if err != nil {
				t.Fatalf("baseline: %v", err)
			}
			return n
		}
	}
	t.Fatal("baseline: no both= line")
	return 0
}

// TestRegressionSuite runs Pacemaker's scheduler regression cases through
// the grader and fails if fewer pass than the committed baseline.
func TestRegressionSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("regression suite skipped in -short mode")
	}
	root := repoRoot(t)
	suite := filepath.Join(root, "..", "shared", "pacemaker-scheduler")
	grader := filepath.Join(root, "..", "shared", "tools", "sched-grade.py")
	if _, err := os.Stat(filepath.Join(suite, "tests.tsv")); err != nil {
		t.Skip("scheduler regression suite not present at " + suite)
	}
	if _, err := os.Stat(grader); err != nil {
		t.Skip("grader not present at " + grader)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	bin := filepath.Join(t.TempDir(), "ringfence")
	build := exec.Command("go", "build", "-o", bin, "./tools/ringfence")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(py, grader, "--suite", suite, "--cmd", bin+" simulate -x {xml} -G {out} {args}", "--jobs", "2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("grader: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`both: (\d+)/(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("grader output without totals:\n%s", out)
	}
	got, _ := strconv.Atoi(string(m[1]))
	want := readBaseline(t, root)
	t.Logf("both: %d/%s (baseline %d)", got, m[2], want)
	if got < want {
		t.Fatalf("regression: %d cases pass both tiers, baseline is %d\n%s", got, want, out)
	}
}
