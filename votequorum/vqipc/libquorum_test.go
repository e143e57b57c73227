package vqipc_test

import (
	"github.com/ringfence/ringfence/ipc/ipctest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestLibquorumV1AndVotequorum runs testdata/quorumclient.c (Debian's
// libquorum V1 model and libvotequorum) against a 3-node state: the real
// libraries must decode the V1 notifications (lists at 52 and 60) and
// the votequorum ones (context echoed, lists at 48 and 56).
func TestLibquorumV1AndVotequorum(t *testing.T) {
	ipctest.NeedRoot(t, "gcc")
	for _, h := range []string{"quorum.h", "votequorum.h"} {
		if _, err := os.Stat("/usr/include/corosync/" + h); err != nil {
			t.Skipf("needs %s (libquorum-dev, libvotequorum-dev)", h)
		}
	}
	bin := filepath.Join(t.TempDir(), "quorumclient")
	if out, err := exec.Command("gcc", "-Wall", "-o", bin, "testdata/quorumclient.c", "-lquorum", "-lvotequorum").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	ns := startServer(t, 3, 3)
	got, code := runIn(t, ns, bin)
	got = sortNodes(got)
	want := "TYPE 1\n" +
		"Q1-NODELIST ring=1.4 members=1,2,3 joined= left=\n" +
		"Q1-QUORUM quorate=1 ring=1.4 members=1,2,3\n" +
		"VQ-NODELIST ctx=abc ring=1.4 members=1,2,3\n" +
		"VQ-QUORUM ctx=abc quorate=1 nodes=1:1,2:1,3:1\n"
	if got != want || code != 0 {
		t.Errorf("quorumclient: exit %d\n%s\nwant\n%s", code, got, want)
	}
}

// sortNodes sorts the VQ-QUORUM node entries: their order is the
// machine's node table order (votequorum's own tests pin it down), not
// something the IPC layer decides.
func sortNodes(out string) string {
	re := regexp.MustCompile(`(?m)^(VQ-QUORUM .* nodes=)(.*)$`)
	return re.ReplaceAllStringFunc(out, func(line string) string {
		m := re.FindStringSubmatch(line)
		nodes := strings.Split(m[2], ",")
		slices.Sort(nodes)
		return m[1] + strings.Join(nodes, ",")
	})
}
