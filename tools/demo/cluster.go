package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/exec/node"
)

// The cluster demo runs three real ringfenced runtimes, each in its own
// process, on 127.0.0.1-3 over udpu (no root needed: all of 127/8 is on the
// loopback interface). Each child is this program re-run as
// `demo node N CONF STATEDIR`; it prints Corosync's log lines and a
// machine-readable STATUS line whenever its view changes, which the parent
// reads to know when to go on. IPC is off in the children: three daemons in
// one network namespace would otherwise claim the same socket names.

const clusterConf = `totem {
	version: 2
	cluster_name: demo
	transport: udpu
	token: 1000
	interface {
		linknumber: 0
		mcastport: 15405
	}
}
logging {
	to_stderr: yes
	to_syslog: no
	timestamp: on
}
quorum {
	provider: corosync_votequorum
}
nodelist {
	node {
		name: node1
		nodeid: 1
		ring0_addr: 127.0.0.1
	}
	node {
		name: node2
		nodeid: 2
		ring0_addr: 127.0.0.2
	}
	node {
		name: node3
		nodeid: 3
		ring0_addr: 127.0.0.3
	}
}
`

// runNode is the child: one runtime until SIGTERM (clean leave).
func runNode(id int, confPath, stateDir string) error {
	text, err := os.ReadFile(confPath)
	if err != nil {
		return err
	}
	env := coroconf.DefaultEnv()
	// All three addresses are local here; tell the parser which one is ours.
	env.LocalAddrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, byte(id)})}
	env.NoUidgidDir = true
	cfg, err := coroconf.Parse(confPath, text, env)
	if err != nil {
		return err
	}
	n, err := node.New(node.Options{Config: cfg, StateDir: stateDir, NoIPC: true, Stderr: os.Stdout, Version: "demo"})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		last := ""
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.Changed():
			case <-time.After(50 * time.Millisecond):
			}
			s := n.Status()
			line := fmt.Sprintf("STATUS ring=%s members=%s synced=%v", s.RingID, idsString(s.Members), s.Synced)
			if line != last {
				fmt.Println(line)
				last = line
			}
		}
	}()
	return n.Run(ctx)
}

func idsString(ids []uint32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}

// child is one node process seen from the parent.
type child struct {
	id     int
	cmd    *exec.Cmd
	mu     sync.Mutex
	status string // the last STATUS line
	done   chan struct{}
}

type cluster struct {
	self, conf, dir string
	start           time.Time
	out             io.Writer
	nodes           map[int]*child
}

func (c *cluster) startNode(id int) error {
	stateDir := filepath.Join(c.dir, fmt.Sprintf("state%d", id))
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(c.self, "node", fmt.Sprint(id), c.conf, stateDir)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ch := &child{id: id, cmd: cmd, done: make(chan struct{})}
	c.nodes[id] = ch
	go func() {
		defer close(ch.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "STATUS ") {
				ch.mu.Lock()
				ch.status = line
				ch.mu.Unlock()
				continue
			}
			// Show the operator notices (the sync line for node 1 only,
			// to keep it short); the rest stays in the node's log.
			show := strings.Contains(line, "A new membership") || strings.Contains(line, "processor failed") ||
				id == 1 && strings.Contains(line, "Completed service synchronization")
			if show {
				fmt.Fprintf(c.out, "%7.3fs node%d | %s\n", time.Since(c.start).Seconds(), id, trimStamp(line))
			}
		}
		cmd.Wait()
	}()
	return nil
}

// trimStamp drops the wall-clock stamp at the front of a log line; the
// demo prints its own elapsed time instead.
func trimStamp(line string) string {
	for _, subsys := range []string{"[TOTEM", "[QUORUM", "[MAIN"} {
		if i := strings.Index(line, subsys); i >= 0 {
			return line[i:]
		}
	}
	return line
}

func (c *cluster) waitStatus(ids []int, members string, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	for time.Since(begin) < limit {
		ok := true
		for _, id := range ids {
			ch := c.nodes[id]
			ch.mu.Lock()
			st := ch.status
			ch.mu.Unlock()
			if !strings.Contains(st, " members="+members+" synced=true") {
				ok = false
			}
		}
		if ok {
			return time.Since(begin), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("nodes %v did not agree on members %s within %v", ids, members, limit)
}

func (c *cluster) stopAll(sig syscall.Signal) {
	for _, ch := range c.nodes {
		if ch.cmd.Process != nil {
			ch.cmd.Process.Signal(sig)
		}
	}
	for _, ch := range c.nodes {
		select {
		case <-ch.done:
		case <-time.After(5 * time.Second):
			ch.cmd.Process.Kill()
			<-ch.done
		}
	}
}

// runCluster is the parent: the story with real processes and sockets.
func runCluster(out io.Writer) (err error) {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ringfence-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(conf, []byte(clusterConf), 0o644); err != nil {
		return err
	}
	c := &cluster{self: self, conf: conf, dir: dir, start: time.Now(), out: out, nodes: map[int]*child{}}
	defer c.stopAll(syscall.SIGKILL)

	fmt.Fprintln(out, "Three ringfenced runtimes, one process each, udpu on 127.0.0.1-3 port 15405, token 1000.")
	for id := 1; id <= 3; id++ {
		if err := c.startNode(id); err != nil {
			return err
		}
	}
	took, err := c.waitStatus([]int{1, 2, 3}, "1,2,3", 20*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "-> one ring of three formed %v after start\n\n", took.Round(time.Millisecond))

	fmt.Fprintln(out, "SIGKILL node 3.")
	c.nodes[3].cmd.Process.Kill()
	<-c.nodes[3].done
	if took, err = c.waitStatus([]int{1, 2}, "1,2", 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "-> nodes 1 and 2 re-formed without node 3 %v after the kill\n\n", took.Round(time.Millisecond))

	fmt.Fprintln(out, "Restart node 3 (its ring id file is kept).")
	if err := c.startNode(3); err != nil {
		return err
	}
	if took, err = c.waitStatus([]int{1, 2, 3}, "1,2,3", 20*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "-> node 3 rejoined %v after its restart\n\n", took.Round(time.Millisecond))
	fmt.Fprintln(out, "SIGTERM all three (clean leave) and clean up.")
	c.stopAll(syscall.SIGTERM)
	return nil
}
