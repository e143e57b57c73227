package cmapsvc_test

import (
	"fmt"
	"github.com/ringfence/ringfence/ipc/ipctest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildLibcmapClient compiles ipc/testdata/libcmap-client.c against the
// installed libcmap.
func buildLibcmapClient(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/include/corosync/cmap.h"); err != nil {
		t.Skip("needs libcmap-dev")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc")
	}
	bin := filepath.Join(t.TempDir(), "libcmap-client")
	out, err := exec.Command("gcc", "-O2", "-o", bin, "../testdata/libcmap-client.c", "-lcmap").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// TestLibcmapAgainstOurServer runs a C program linked with Debian's
// libcmap (and so libqb) against our cmap service.
func TestLibcmapAgainstOurServer(t *testing.T) {
	ipctest.NeedRoot(t)
	bin := buildLibcmapClient(t)
	s := startNsServer(t)
	out, err := exec.Command("ip", "netns", "exec", s.ns, bin, "check").CombinedOutput()
	want := "u32 4000000000\nstr hello world\nu8 9\nwrong type 7\nmissing 12\niter 13\nOK\n"
	if err != nil || string(out) != want {
		t.Fatalf("libcmap client: %v\n%s\nwant\n%s", err, out, want)
	}
	if l := lineOf(s.dump("dump"), "ringfence.from_c"); l != "ringfence.from_c (u8) = 9\n" {
		t.Fatalf("value set through libcmap: %q", l)
	}
}

// BenchmarkLibcmapGet measures cmap_get_uint32 round trips from C through
// libqb's SHM transport to our server (one process run per benchmark
// round; b.N gets inside it).
func BenchmarkLibcmapGet(b *testing.B) {
	ipctest.NeedRoot(b)
	bin := buildLibcmapClient(b)
	s := startNsServer(b)
	b.ResetTimer()
	out, err := exec.Command("ip", "netns", "exec", s.ns, bin, "bench", fmt.Sprint(b.N)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "req/s") {
		b.Fatalf("%v %s", err, out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
