package node

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

// The Pacemaker tests run Debian's Pacemaker 2.1 unmodified on a cluster
// daemon per host, either ringfenced or Debian's corosync 3.1.7, so the
// same scenario can be played on both and the outcomes compared.

const (
	stackRingfenced = "ringfenced"
	stackCorosync   = "corosync"
)

// pcmkTimers are the Pacemaker settings that dominate every failover
// figure. Both stacks get the same ones, seeded into each node's CIB
// before Pacemaker starts so the first DC election also uses them.
var pcmkTimers = []struct{ name, value string }{
	{"dc-deadtime", "5s"},
	{"stonith-timeout", "30s"},
	{"cluster-recheck-interval", "1min"},
	{"election-timeout", "30s"},
}

// pcmkMonitorInterval is the Dummy resource's monitor interval.
const pcmkMonitorInterval = "5s"

func pcmkTimersString() string {
	var parts []string
	for _, tm := range pcmkTimers {
		parts = append(parts, tm.name+"="+tm.value)
	}
	return strings.Join(parts, " ") + " monitor=" + pcmkMonitorInterval + " totem.token=1000"
}

// needPacemaker skips unless Debian's Pacemaker, its CLI and the agents
// the scenario uses are installed.
func needPacemaker(t *testing.T) {
	t.Helper()
	needCmapctl(t)
	for _, c := range []string{"pacemakerd", "crm_mon", "crm_node", "cibadmin", "crm_resource", "crm_attribute", "stonith_admin"} {
		if _, err := osexec.LookPath(c); err != nil {
			t.Skipf("needs %s (Debian packages pacemaker, pacemaker-cli-utils)", c)
		}
	}
	if _, err := os.Stat("/usr/sbin/fence_dummy"); err != nil {
		t.Skip("needs /usr/sbin/fence_dummy (Debian package fence-agents)")
	}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/pacemaker/Dummy"); err != nil {
		t.Skip("needs ocf:pacemaker:Dummy (Debian package pacemaker)")
	}
	if testing.Short() {
		t.Skip("starts Pacemaker (slow)")
	}
}

type pcmkNode struct {
	h          *netns.Host
	name       string // Pacemaker's node name, nodeN
	stack      string
	daemon     *netns.Proc
	pacemakerd *netns.Proc
}

type pcmkCluster struct {
	t     *testing.T
	c     *netns.Cluster
	conf  string
	bin   string // ringfenced
	nodes []*pcmkNode
}

// newPcmkCluster builds len(stacks) hosts; stacks[i] is what host i+1
// runs under Pacemaker. Nothing is started yet.
func newPcmkCluster(t *testing.T, stacks ...string) *pcmkCluster {
	t.Helper()
	for _, s := range stacks {
		if s == stackCorosync {
			if _, err := osexec.LookPath("corosync"); err != nil {
				t.Skip("needs corosync (Debian package corosync)")
			}
		}
	}
	c := netns.NewCluster(t, len(stacks), netns.Options{ExtraTmpfs: []string{"/var/lib/pacemaker", "/var/log/pacemaker", "/dev/shm"}})
	pc := &pcmkCluster{t: t, c: c, bin: daemonBinary(t)}
	conf, err := c.WriteCorosyncConf(netns.CorosyncOptions{Token: 1000})
	if err != nil {
		t.Fatal(err)
	}
	pc.conf = conf
	// RINGFENCE_PCMK_LOGS=dir keeps every process log of the run.
	if keep := os.Getenv("RINGFENCE_PCMK_LOGS"); keep != "" {
		t.Cleanup(func() {
			dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
			if out, err := osexec.Command("sh", "-c", `mkdir -p "$2" && cp "$1"/*.log "$2"/`, "sh", c.Dir(), dst).CombinedOutput(); err != nil {
				t.Logf("keeping logs: %v: %s", err, out)
			}
			for _, n := range pc.nodes {
				_ = os.WriteFile(filepath.Join(dst, n.name+"-pacemaker-detail.log"), []byte(pc.detailLog(n)), 0o644)
			}
		})
	}
	for i, h := range c.Hosts {
		pc.nodes = append(pc.nodes, &pcmkNode{h: h, name: fmt.Sprintf("node%d", i+1), stack: stacks[i]})
		pc.seed(h)
	}
	return pc
}

// seedCIB is every node's CIB before Pacemaker first starts: only the
// timers, so both stacks run with the same ones. Pacemaker accepts an
// on-disk CIB without a digest file.
func seedCIB() string {
	var nv strings.Builder
	for _, tm := range pcmkTimers {
		fmt.Fprintf(&nv, `<nvpair id="opt-%[1]s" name="%[1]s" value="%[2]s"/>`, tm.name, tm.value)
	}
	return `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config>` +
		`<cluster_property_set id="cib-bootstrap-options">` + nv.String() + `</cluster_property_set></crm_config>` +
		`<nodes/><resources/><constraints/></configuration><status/></cib>`
}

func (pc *pcmkCluster) seed(h *netns.Host) {
	pc.t.Helper()
	path := filepath.Join(pc.c.Dir(), "cib-seed.xml")
	if err := os.WriteFile(path, []byte(seedCIB()), 0o644); err != nil {
		pc.t.Fatal(err)
	}
	script := "set -e; chmod 1777 /dev/shm; mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /var/log/pacemaker; " +
		"cp " + path + " /var/lib/pacemaker/cib/cib.xml; chmod 600 /var/lib/pacemaker/cib/cib.xml; " +
		"chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker"
	if _, err := h.Run(context.Background(), "sh", "-c", script); err != nil {
		pc.t.Fatal(err)
	}
}

func (pc *pcmkCluster) daemonArgv(stack string) []string {
	if stack == stackCorosync {
		return []string{"corosync"}
	}
	return []string{pc.bin}
}

// startDaemon starts the node's cluster daemon and waits until it lists
// itself as a member, so pacemakerd finds it on its first try.
func (pc *pcmkCluster) startDaemon(n *pcmkNode) {
	pc.t.Helper()
	p, err := n.h.StartDaemon(pc.conf, pc.daemonArgv(n.stack)...)
	if err != nil {
		pc.t.Fatal(err)
	}
	n.daemon = p
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ids, _ := n.h.Members(context.Background())
		for _, id := range ids {
			if int(id) == n.h.Index {
				return
			}
		}
		if p.Exited() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pc.t.Fatalf("%s on %s did not come up:\n%s", n.stack, n.name, fileTail(p.LogPath, 30))
}

func (pc *pcmkCluster) startPacemaker(n *pcmkNode) {
	pc.t.Helper()
	p, err := n.h.Start("pacemaker", "env", "PCMK_logfile="+pcmkLogfile, "PCMK_debug=no", "pacemakerd", "-f")
	if err != nil {
		pc.t.Fatal(err)
	}
	n.pacemakerd = p
}

// startAll starts every daemon, then Pacemaker everywhere.
func (pc *pcmkCluster) startAll() {
	pc.t.Helper()
	for _, n := range pc.nodes {
		p, err := n.h.StartDaemon(pc.conf, pc.daemonArgv(n.stack)...)
		if err != nil {
			pc.t.Fatal(err)
		}
		n.daemon = p
	}
	for _, n := range pc.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_, err := n.h.WaitMembers(ctx, time.Now(), netns.Indices(pc.c.Hosts...), 100*time.Millisecond)
		cancel()
		if err != nil {
			pc.t.Fatalf("ring of %v: %v", pc.stacks(), err)
		}
	}
	for _, n := range pc.nodes {
		pc.startPacemaker(n)
	}
}

func (pc *pcmkCluster) stacks() []string {
	var s []string
	for _, n := range pc.nodes {
		s = append(s, n.stack)
	}
	return s
}

// run runs a command on node n with a 20 s limit.
func (pc *pcmkCluster) run(n *pcmkNode, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return n.h.Run(ctx, argv...)
}

func (pc *pcmkCluster) mustRun(n *pcmkNode, argv ...string) string {
	pc.t.Helper()
	out, err := pc.run(n, argv...)
	if err != nil {
		pc.t.Fatal(err)
	}
	return out
}

// waitFor polls cond every interval until it returns "" (done) or the
// timeout passes; then the test fails with cond's last complaint.
func (pc *pcmkCluster) waitFor(what string, timeout, interval time.Duration, cond func() string) time.Duration {
	pc.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		if last = cond(); last == "" {
			return time.Since(start)
		}
		time.Sleep(interval)
	}
	pc.dumpPacemaker()
	pc.t.Fatalf("%s: not reached in %v: %s", what, timeout, last)
	return 0
}

var dcRe = regexp.MustCompile(`Current DC: (node\d+) `)

// clusterView checks crm_mon -1 on every node in want: each lists exactly
// want online and all agree on one DC, which it returns ("" and the
// complaint otherwise).
func (pc *pcmkCluster) clusterView(want []*pcmkNode) (dc string, complaint string) {
	var names []string
	for _, n := range want {
		names = append(names, n.name)
	}
	online := "Online: [ " + strings.Join(names, " ") + " ]"
	for _, n := range want {
		out, err := pc.run(n, "crm_mon", "-1")
		if err != nil {
			return "", err.Error()
		}
		if !strings.Contains(out, online) {
			return "", fmt.Sprintf("%s: no %q in crm_mon:\n%s", n.name, online, out)
		}
		m := dcRe.FindStringSubmatch(out)
		if m == nil {
			return "", fmt.Sprintf("%s: no DC in crm_mon:\n%s", n.name, out)
		}
		if dc != "" && m[1] != dc {
			return "", fmt.Sprintf("%s sees DC %s, another node sees %s", n.name, m[1], dc)
		}
		dc = m[1]
	}
	return dc, ""
}

// waitView waits until clusterView(want) agrees and returns the DC.
func (pc *pcmkCluster) waitView(want []*pcmkNode, timeout time.Duration) string {
	pc.t.Helper()
	var dc string
	pc.waitFor("crm_mon on every node", timeout, 500*time.Millisecond, func() string {
		var complaint string
		dc, complaint = pc.clusterView(want)
		return complaint
	})
	return dc
}

func (pc *pcmkCluster) node(name string) *pcmkNode {
	for _, n := range pc.nodes {
		if n.name == name {
			return n
		}
	}
	pc.t.Fatalf("no node %q", name)
	return nil
}

// checkTools runs crm_node -l, crm_node -q and cibadmin -Q on every node.
func (pc *pcmkCluster) checkTools(want []*pcmkNode) {
	pc.t.Helper()
	for _, n := range want {
		out := pc.mustRun(n, "crm_node", "-l")
		for _, m := range want {
			line := fmt.Sprintf("%d %s member", m.h.Index, m.name)
			if !strings.Contains(out, line) {
				pc.t.Fatalf("crm_node -l on %s has no %q:\n%s", n.name, line, out)
			}
		}
		if q := strings.TrimSpace(pc.mustRun(n, "crm_node", "-q")); q != "1" {
			pc.t.Fatalf("crm_node -q on %s = %q, want 1 (quorate)", n.name, q)
		}
		if cib := pc.mustRun(n, "cibadmin", "-Q"); !strings.Contains(cib, "<cib ") || !strings.Contains(cib, `have-quorum="1"`) {
			pc.t.Fatalf("cibadmin -Q on %s: no quorate <cib>:\n%s", n.name, cib)
		}
	}
}

// configure adds the fence_dummy device, enables fencing, and adds the
// Dummy resource placed on prefer (score 50 against a stickiness of 100,
// so after a failover it stays where it went).
func (pc *pcmkCluster) configure(on *pcmkNode, prefer string) {
	pc.t.Helper()
	status := filepath.Join(pc.c.Dir(), "fence_dummy.status")
	pc.mustRun(on, "cibadmin", "-C", "-o", "resources", "-X",
		`<primitive id="fence-dummy" class="stonith" type="fence_dummy"><instance_attributes id="fence-dummy-ia">`+
			`<nvpair id="fence-dummy-type" name="type" value="file"/>`+
			`<nvpair id="fence-dummy-status" name="status_file" value="`+status+`"/>`+
			`<nvpair id="fence-dummy-hosts" name="pcmk_host_list" value="node1 node2 node3"/>`+
			`<nvpair id="fence-dummy-check" name="pcmk_host_check" value="static-list"/>`+
			// fence_dummy has no port option; without this it logs the
			// one Pacemaker would pass as unknown.
			`<nvpair id="fence-dummy-arg" name="pcmk_host_argument" value="none"/>`+
			`</instance_attributes><operations><op id="fence-dummy-monitor" name="monitor" interval="60s"/></operations></primitive>`)
	pc.mustRun(on, "crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--update", "true")
	pc.mustRun(on, "crm_attribute", "--type", "rsc_defaults", "--name", "resource-stickiness", "--update", "100")
	// Created stopped, placed, then started, so it starts on prefer.
	pc.mustRun(on, "cibadmin", "-C", "-o", "resources", "-X",
		`<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy">`+
			`<meta_attributes id="dummy-meta"><nvpair id="dummy-target-role" name="target-role" value="Stopped"/></meta_attributes>`+
			`<instance_attributes id="dummy-ia"><nvpair id="dummy-state" name="state" value="`+dummyState+`"/></instance_attributes>`+
			`<operations><op id="dummy-monitor" name="monitor" interval="`+pcmkMonitorInterval+`"/></operations></primitive>`)
	pc.mustRun(on, "cibadmin", "-C", "-o", "constraints", "-X",
		`<rsc_location id="dummy-prefers" rsc="dummy" node="`+prefer+`" score="50"/>`)
	pc.mustRun(on, "crm_resource", "--resource", "dummy", "--meta", "--set-parameter", "target-role", "--parameter-value", "Started")
}

var locateRe = regexp.MustCompile(`resource (\S+) is running on: (node\d+)`)

// locate returns the nodes crm_resource --locate lists for rsc on n.
func (pc *pcmkCluster) locate(n *pcmkNode, rsc string) ([]string, error) {
	out, err := pc.run(n, "crm_resource", "--locate", "--resource", rsc)
	if err != nil {
		if strings.Contains(out, "NOT running") {
			return nil, nil
		}
		return nil, err
	}
	var where []string
	for _, m := range locateRe.FindAllStringSubmatch(out, -1) {
		where = append(where, m[2])
	}
	return where, nil
}

// waitRunningOn waits until rsc runs on exactly one node that satisfies
// ok, as n sees it, and returns that node.
func (pc *pcmkCluster) waitRunningOn(n *pcmkNode, rsc string, timeout time.Duration, ok func(string) bool) string {
	pc.t.Helper()
	var at string
	pc.waitFor(rsc+" running", timeout, 250*time.Millisecond, func() string {
		where, err := pc.locate(n, rsc)
		if err != nil {
			return err.Error()
		}
		if len(where) != 1 || !ok(where[0]) {
			return fmt.Sprintf("%s runs on %v", rsc, where)
		}
		at = where[0]
		return ""
	})
	return at
}

// killNode SIGKILLs the node's daemon, pacemakerd and every process they
// started (subdaemons, agents): the host lost power. The host's namespace
// holder lives on, so the node can be "rebooted" with restartNode.
func (pc *pcmkCluster) killNode(n *pcmkNode) {
	pc.t.Helper()
	roots := map[int]bool{}
	for _, p := range []*netns.Proc{n.daemon, n.pacemakerd} {
		if p != nil && !p.Exited() {
			roots[p.Pid] = true
		}
	}
	victims := descendants(roots)
	for _, pid := range victims {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, p := range []*netns.Proc{n.daemon, n.pacemakerd} {
		if p != nil {
			select {
			case <-p.Done():
			case <-time.After(10 * time.Second):
				pc.t.Fatalf("%s on %s survived SIGKILL", p.Name, n.name)
			}
		}
	}
	// Children reparented to init are among victims already; give the
	// kernel a moment to reap them before the node is restarted.
	for _, pid := range victims {
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil && !isZombie(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// descendants lists the pids in roots and every process below them.
func descendants(roots map[int]bool) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppid(pid); ok {
			parent[pid] = pp
		}
	}
	var out []int
	for pid := range parent {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if roots[p] {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// ppid reads the parent pid from /proc/pid/stat (the field after the
// parenthesised command, which may itself contain spaces).
func ppid(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// reboot wipes what a reboot loses (/run: pid files, IPC, the Dummy
// agent's state file; /dev/shm) and starts the daemon and Pacemaker
// again. The CIB on disk stays, as it would.
func (pc *pcmkCluster) reboot(n *pcmkNode) {
	pc.t.Helper()
	pc.mustRun(n, "sh", "-c", "find /run /dev/shm -mindepth 1 -delete; mkdir -p /run/lock; chmod 1777 /dev/shm")
	pc.startDaemon(n)
	pc.startPacemaker(n)
}

// stopNode stops Pacemaker, then the daemon, the way systemd would
// (SIGTERM, wait); Pacemaker moves resources away while it stops.
func (pc *pcmkCluster) stopNode(n *pcmkNode) {
	pc.t.Helper()
	for _, p := range []*netns.Proc{n.pacemakerd, n.daemon} {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			pc.t.Fatalf("stop %s on %s: %v", p.Name, n.name, err)
		}
		select {
		case <-p.Done():
		case <-time.After(90 * time.Second):
			pc.t.Fatalf("%s on %s did not stop after SIGTERM:\n%s", p.Name, n.name, fileTail(p.LogPath, 30))
		}
	}
}

// fenceHistory returns stonith_admin's history for target as seen on n.
func (pc *pcmkCluster) fenceHistory(n *pcmkNode, target string) string {
	out, _ := pc.run(n, "stonith_admin", "--history", target)
	return out
}

// pcmkLogfile is where every Pacemaker daemon of a host logs (a private
// tmpfs per host); pacemakerd's subdaemons cannot log to its stderr.
const pcmkLogfile = "/var/log/pacemaker/pacemaker.log"

func (pc *pcmkCluster) detailLog(n *pcmkNode) string {
	out, _ := pc.run(n, "cat", pcmkLogfile)
	return out
}

func (pc *pcmkCluster) dumpPacemaker() {
	for _, n := range pc.nodes {
		pc.t.Logf("%s pacemaker log:\n%s", n.name, grepLines(pc.detailLog(n),
			"error", "crit", "warn", "fence", "stonith", "Fencing", "quorum", "membership", "Dummy", "dummy"))
	}
}

func fileString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func fileTail(path string, n int) string { return tail(fileString(path), n) }
