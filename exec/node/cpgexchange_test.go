package node

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// cpgExchangeBinary compiles testdata/netns/cpgexchange.c against
// Debian's libcpg; why says what is missing when it cannot.
func cpgExchangeBinary(t *testing.T) (bin, why string) {
	t.Helper()
	if _, err := osexec.LookPath("gcc"); err != nil {
		return "", "needs gcc to build the libcpg client"
	}
	if _, err := os.Stat("/usr/include/corosync/cpg.h"); err != nil {
		return "", "needs libcpg-dev (Debian package) to build the libcpg client"
	}
	bin = filepath.Join(t.TempDir(), "cpgexchange")
	if out, err := osexec.Command("gcc", "-Wall", "-Werror", "-o", bin, "../../testdata/netns/cpgexchange.c", "-lcpg").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin, ""
}

// buildCpgExchange is cpgExchangeBinary for tests that are about the
// client: it skips when the client cannot be built.
func buildCpgExchange(t *testing.T) string {
	t.Helper()
	bin, why := cpgExchangeBinary(t)
	if why != "" {
		t.Skip(why)
	}
	return bin
}

// cpgExchange runs one cpgexchange client on each host (each host runs a
// daemon, corosync or ringfenced): every client joins group, sends count
// messages once all are members, and prints every delivery. It fails the
// test unless every client delivered all len(hosts)*count messages, each
// once, all in one order, and it returns that order.
func cpgExchange(t *testing.T, bin string, hosts []*netns.Host, group string, count int) []string {
	t.Helper()
	procs := make([]*netns.Proc, len(hosts))
	for i, h := range hosts {
		p, err := h.Start("cpg-"+group, bin, group, fmt.Sprint(len(hosts)), fmt.Sprint(count))
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	orders := make([][]string, len(hosts))
	for i, p := range procs {
		select {
		case <-p.Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("cpg client on host %d did not finish:\n%s", hosts[i].Index, readLog(t, p))
		}
		log := readLog(t, p)
		if err := p.Wait(); err != nil || !strings.Contains(log, "DONE") {
			t.Fatalf("cpg client on host %d: %v\n%s", hosts[i].Index, err, log)
		}
		if !strings.Contains(log, fmt.Sprintf("LOCAL nodeid=%d\n", hosts[i].Index)) {
			t.Fatalf("cpg client on host %d reports the wrong local node:\n%s", hosts[i].Index, log)
		}
		for _, line := range strings.Split(log, "\n") {
			if m, ok := strings.CutPrefix(line, "DELIVER "); ok {
				orders[i] = append(orders[i], m)
			}
		}
	}
	var want []string
	for _, h := range hosts {
		for j := range count {
			want = append(want, fmt.Sprintf("from=%d data=%d-%d", h.Index, h.Index, j))
		}
	}
	if err := sameSet(orders[0], want); err != nil {
		t.Fatalf("cpg client on host %d: %v", hosts[0].Index, err)
	}
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[i], orders[0]) {
			j := 0
			for j < len(orders[i]) && j < len(orders[0]) && orders[i][j] == orders[0][j] {
				j++
			}
			t.Fatalf("cpg clients on hosts %d and %d delivered different sequences (%d and %d messages), first difference at #%d: %q vs %q",
				hosts[i].Index, hosts[0].Index, len(orders[i]), len(orders[0]), j, at(orders[i], j), at(orders[0], j))
		}
	}
	return orders[0]
}

// interleaved reports whether the order mixes senders (not one sender's
// whole batch after another's), which shows the exchange really ran
// concurrently on the ring rather than in turns.
func interleaved(order []string) bool {
	changes := 0
	for i := 1; i < len(order); i++ {
		a, _, _ := strings.Cut(order[i-1], " ")
		b, _, _ := strings.Cut(order[i], " ")
		if a != b {
			changes++
		}
	}
	return changes > 2
}

// TestNetnsLibcpgThreeDaemons is issue #5's acceptance: a C program built
// against libcpg joins a group, sends and receives on 3 ringfenced
// processes in network namespaces; all deliver the same messages in the
// same order.
func TestNetnsLibcpgThreeDaemons(t *testing.T) {
	needCmapctl(t)
	bin := buildCpgExchange(t)
	c := netns.NewCluster(t, 3, netns.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, procs, _, err := c.StartRing(ctx, netns.CorosyncOptions{Token: 1000, Daemon: []string{daemonBinary(t)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitSyncAfterLastMembership(t, p, 10*time.Second)
	}
	order := cpgExchange(t, bin, c.Hosts, "rfexchange", 200)
	t.Logf("3 libcpg clients on 3 ringfenced nodes: %d messages, one order (interleaved: %v)", len(order), interleaved(order))
}
