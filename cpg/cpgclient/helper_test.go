package cpgclient_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/cpg/cpgclient"
	"github.com/ringfence/ringfence/exec/node"
	"github.com/ringfence/ringfence/tools/netns"
	"github.com/ringfence/ringfence/totem/wire"
)

// startRing runs n ringfenced nodes in this process on 127.0.0.1..n, each
// serving IPC under its own prefix, and waits until all are synced on one
// ring. It returns the prefixes.
func startRing(t *testing.T, n int) []string {
	t.Helper()
	port := netns.FreeLoopbackPort(t, n)
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n version: 2\n cluster_name: cpgclient\n transport: udpu\n token: 300\n interface {\n  linknumber: 0\n  mcastport: %d\n }\n}\nnodelist {\n", port)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " node {\n  ring0_addr: 127.0.0.%d\n  nodeid: %d\n }\n", i, i)
	}
	b.WriteString("}\n")
	var nodes []*node.Node
	var prefixes []string
	for i := 1; i <= n; i++ {
		env := coroconf.DefaultEnv()
		env.LocalAddrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, byte(i)})}
		env.NoUidgidDir = true
		cfg, err := coroconf.Parse("corosync.conf", []byte(b.String()), env)
		if err != nil {
			t.Fatal(err)
		}
		log := logrus.New()
		log.SetOutput(io.Discard)
		if testing.Verbose() {
			log.SetOutput(os.Stderr)
		}
		prefix := fmt.Sprintf("rfcc%d-%d-%d-", os.Getpid(), port, i)
		nd, err := node.New(node.Options{Config: cfg, Logger: log, StateDir: t.TempDir(), IPCPrefix: prefix})
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- nd.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		nodes = append(nodes, nd)
		prefixes = append(prefixes, prefix)
	}
	want := make([]uint32, n)
	for i := range want {
		want[i] = uint32(i + 1)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, nd := range nodes {
			st := nd.Status()
			ok = ok && st.Synced && slices.Equal(st.Members, want)
		}
		if ok {
			return prefixes
		}
		if time.Now().After(deadline) {
			t.Fatalf("ring of %d did not form", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder is a client whose callbacks append one line per event.
type recorder struct {
	conn *cpgclient.Conn
	mu   sync.Mutex
	log  []string
	msgs []string // deliveries only, "node/pid:data"
	big  [][]byte
}

func (r *recorder) add(line string) {
	r.mu.Lock()
	r.log = append(r.log, line)
	r.mu.Unlock()
}

func (r *recorder) callbacks() cpgclient.Callbacks {
	return cpgclient.Callbacks{
		Deliver: func(g string, node, pid uint32, msg []byte) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(msg) > 1000 {
				r.big = append(r.big, slices.Clone(msg))
				return
			}
			r.msgs = append(r.msgs, fmt.Sprintf("%d/%d:%s", node, pid, msg))
		},
		Confchg: func(g string, members, left, joined []cpgclient.Address) {
			r.add(fmt.Sprintf("confchg %s members=%v left=%v joined=%v", g, members, left, joined))
		},
		TotemConfchg: func(ring wire.RingID, nodes []uint32) {
			r.add(fmt.Sprintf("totem nodes=%v", nodes))
		},
	}
}

// dial connects a recorder through conn options o (callbacks filled in)
// and runs its dispatcher until the test ends. dialFn lets a test dial
// from inside a network namespace.
func dial(t *testing.T, o cpgclient.Options, dialFn func(func() error) error) *recorder {
	t.Helper()
	r := &recorder{}
	o.Callbacks = r.callbacks()
	err := dialFn(func() (err error) {
		r.conn, err = cpgclient.Dial(o)
		return err
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.conn.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; r.conn.Close() })
	return r
}

func direct(f func() error) error { return f() }

func (r *recorder) snapshot() (log, msgs []string, big [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log), slices.Clone(r.msgs), slices.Clone(r.big)
}

// waitFor polls cond until it holds or the (generous) timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
