package netns

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// udpEndpoint opens a UDP socket inside h's network namespace.
func udpEndpoint(t *testing.T, h *Host, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := h.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr, uint16(port))))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func reaches(t *testing.T, from *net.UDPConn, to *net.UDPConn) bool {
	t.Helper()
	msg := []byte(time.Now().String())
	from.WriteToUDPAddrPort(msg, to.LocalAddr().(*net.UDPAddr).AddrPort())
	buf := make([]byte, 100)
	to.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, _, err := to.ReadFromUDPAddrPort(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == string(msg) {
			return true
		}
	}
}

func TestClusterNetworkAndMounts(t *testing.T) {
	c := NewCluster(t, 3, Options{})
	e := make([]*net.UDPConn, 3)
	for i, h := range c.Hosts {
		e[i] = udpEndpoint(t, h, 7000)
	}
	if !reaches(t, e[0], e[1]) || !reaches(t, e[2], e[0]) {
		t.Fatal("hosts cannot reach each other over the bridge")
	}

	if err := c.Hosts[1].Cut(); err != nil {
		t.Fatal(err)
	}
	if reaches(t, e[0], e[1]) || reaches(t, e[1], e[2]) {
		t.Fatal("cut host still reachable")
	}
	if !reaches(t, e[0], e[2]) {
		t.Fatal("cut of host 2 broke 1->3")
	}
	if err := c.Hosts[1].Heal(); err != nil {
		t.Fatal(err)
	}
	if !reaches(t, e[0], e[1]) {
		t.Fatal("healed host unreachable")
	}

	if err := c.Hosts[0].Block(c.Hosts[2]); err != nil {
		t.Fatal(err)
	}
	if reaches(t, e[0], e[2]) || !reaches(t, e[2], e[0]) {
		t.Fatal("one-way block is not one-way")
	}
	if err := c.Hosts[0].Unblock(c.Hosts[2]); err != nil {
		t.Fatal(err)
	}
	if !reaches(t, e[0], e[2]) {
		t.Fatal("unblock did not restore 1->3")
	}

	// Private /run per host, shared by every process on that host.
	ctx := context.Background()
	if _, err := c.Hosts[0].Run(ctx, "sh", "-c", "echo one > /run/rf-mark"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Hosts[0].Run(ctx, "cat", "/run/rf-mark"); err != nil || strings.TrimSpace(out) != "one" {
		t.Fatalf("host 1 lost its own /run file: %q %v", out, err)
	}
	if _, err := c.Hosts[1].Run(ctx, "cat", "/run/rf-mark"); err == nil {
		t.Fatal("host 2 sees host 1's /run")
	}
	if out, _ := exec.Command("cat", "/run/rf-mark").CombinedOutput(); strings.TrimSpace(string(out)) == "one" {
		t.Fatal("host /run file leaked to the real /run")
	}
	if out, err := c.Hosts[2].Run(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0"); err != nil || !strings.Contains(out, "198.18.0.3/15") {
		t.Fatalf("host 3 eth0: %q %v", out, err)
	}
}

func TestProcessControl(t *testing.T) {
	c := NewCluster(t, 1, Options{})
	h := c.Hosts[0]
	p, err := h.Start("sleeper", "sh", "-c", "echo started; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, p.Pid, "T"); st != "T" {
		t.Fatalf("after SIGSTOP state %q", st)
	}
	if err := p.Cont(); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, p.Pid, "S"); st != "S" && st != "R" {
		t.Fatalf("after SIGCONT state %q", st)
	}
	// The pid is the program's (nsenter execs it), and it runs in the
	// host's network namespace.
	link, _ := exec.Command("readlink", "/proc/"+itoa(p.Pid)+"/ns/net").Output()
	hlink, _ := exec.Command("readlink", "/proc/"+itoa(h.holder.Pid)+"/ns/net").Output()
	if len(link) == 0 || string(link) != string(hlink) {
		t.Fatalf("process netns %q, host netns %q", link, hlink)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGKILL did not end the process")
	}
	if log := tail(p.LogPath, 1); log != "started" {
		t.Fatalf("log %q", log)
	}
}

func TestNetem(t *testing.T) {
	c := NewCluster(t, 2, Options{})
	if err := c.NetemAvailable(); err != nil {
		t.Skip(err)
	}
	if err := c.Hosts[0].Netem("delay", "100ms"); err != nil {
		t.Fatal(err)
	}
	a, b := udpEndpoint(t, c.Hosts[0], 7000), udpEndpoint(t, c.Hosts[1], 7000)
	start := time.Now()
	if !reaches(t, a, b) {
		t.Fatal("no delivery under netem delay")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("delay not applied: %v", d)
	}
}

func TestCleanupRemovesNamespaces(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	var prefix string
	t.Run("inner", func(t *testing.T) {
		c := NewCluster(t, 2, Options{})
		prefix = c.Prefix()
		if _, err := c.Hosts[0].Start("sleeper", "sleep", "60"); err != nil {
			t.Fatal(err)
		}
	})
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), prefix) {
		t.Fatalf("namespaces with %s left after cleanup:\n%s", prefix, out)
	}
}

func TestSweepRemovesDeadRuns(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	// A pid that cannot be alive (above pid_max's ceiling).
	stale := NamePrefix + "4194999x1-h1"
	if err := ipCmd("netns", "add", stale); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", stale).Run() })
	Sweep()
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), stale) {
		t.Fatal("Sweep left a dead run's namespace")
	}
}

func TestOwnerPid(t *testing.T) {
	for name, want := range map[string]int{
		"rfns123x4-h7":   123,
		"rfns123x4-br":   123,
		"rfns123-h7":     0,
		"rfnsx4-h1":      0,
		"rfcap19130n1":   0,
		"rfns12x3":       0,
		"rfns-5x1-h1":    0,
		"rfns77x1-h1 id": 77,
	} {
		pid, ok := ownerPid(name)
		if (want != 0) != ok || pid != want && ok {
			t.Errorf("%q: %d %v, want %d", name, pid, ok, want)
		}
	}
}

// procState polls ps until the state is want (signals land
// asynchronously) and returns the last state seen.
func procState(t *testing.T, pid int, want string) string {
	t.Helper()
	var st string
	for i := 0; i < 100; i++ {
		out, err := exec.Command("ps", "-o", "state=", "-p", itoa(pid)).Output()
		if err != nil {
			t.Fatalf("ps: %v", err)
		}
		st = strings.TrimSpace(string(out))
		if st == want {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	return st
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCluster32Hosts builds the largest cluster the benchmarks use and
// checks the first and last hosts reach each other.
func TestCluster32Hosts(t *testing.T) {
	start := time.Now()
	c := NewCluster(t, 32, Options{})
	t.Logf("32 hosts built in %v", time.Since(start))
	first, last := c.Hosts[0], c.Hosts[31]
	if last.Addr != netip.MustParseAddr("198.18.0.32") {
		t.Fatalf("host 32 has %s", last.Addr)
	}
	a, b := udpEndpoint(t, first, 7000), udpEndpoint(t, last, 7000)
	if !reaches(t, a, b) || !reaches(t, b, a) {
		t.Fatal("host 1 and host 32 cannot talk")
	}
}
