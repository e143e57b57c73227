package cpgclient_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/user"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/cpg/cpgclient"
	"github.com/ringfence/ringfence/exec/node"
)

// Example joins a group on a single-node ringfenced started in this
// process, multicasts one message and waits for it to come back in
// agreed order. Against a system daemon (corosync or ringfenced) drop
// startSingleNode and the ServicePrefix.
func Example() {
	prefix, stop, err := startSingleNode()
	if err != nil {
		fmt.Println("cannot start a node:", err)
		return
	}
	defer stop()

	var pid uint32
	joined, got := make(chan []cpgclient.Address, 1), make(chan string, 1)
	conn, err := cpgclient.Dial(cpgclient.Options{
		ServicePrefix: prefix,
		Callbacks: cpgclient.Callbacks{
			Confchg: func(group string, members, left, joined_ []cpgclient.Address) {
				for _, a := range joined_ {
					if a.PID == pid {
						joined <- members
					}
				}
			},
			Deliver: func(group string, nodeID, from uint32, msg []byte) {
				got <- fmt.Sprintf("%s: %q from node %d (own message: %v)", group, msg, nodeID, from == pid)
			},
		},
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer conn.Finalize()
	pid = conn.PID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go conn.Run(ctx) // callbacks run on this goroutine

	local, _ := conn.LocalNodeID()
	fmt.Println("local node", local)
	if err := conn.Join("example"); err != nil {
		fmt.Println("join:", err)
		return
	}
	members := <-joined
	fmt.Println("joined; members:", len(members), "on node", members[0].NodeID)
	if err := conn.Mcast([]byte("hello, "), []byte("group")); err != nil {
		fmt.Println("mcast:", err)
		return
	}
	fmt.Println(<-got)
	// Output:
	// local node 1
	// joined; members: 1 on node 1
	// example: "hello, group" from node 1 (own message: true)
}

// startSingleNode runs a one-node ring on 127.0.0.1 with its IPC services
// under a unique prefix, and waits until it serves clients.
func startSingleNode() (prefix string, stop func(), err error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	text := fmt.Sprintf("totem {\n version: 2\n cluster_name: example\n transport: udpu\n token: 300\n"+
		" interface {\n  linknumber: 0\n  mcastport: %d\n }\n}\n"+
		"nodelist {\n node {\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n}\n", port)
	if os.Getuid() != 0 { // let this user's clients in (corosync's uidgid section)
		if u, err := user.Current(); err == nil {
			text += fmt.Sprintf("uidgid {\n uid: %s\n}\n", u.Username)
		}
	}
	env := coroconf.DefaultEnv()
	env.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	env.NoUidgidDir = true
	cfg, err := coroconf.Parse("corosync.conf", []byte(text), env)
	if err != nil {
		return "", nil, err
	}
	state, err := os.MkdirTemp("", "cpgclient-example-")
	if err != nil {
		return "", nil, err
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	prefix = fmt.Sprintf("rfex%d-", os.Getpid())
	n, err := node.New(node.Options{Config: cfg, Logger: log, StateDir: state, IPCPrefix: prefix})
	if err != nil {
		os.RemoveAll(state)
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stop = func() { cancel(); <-done; os.RemoveAll(state) }
	deadline := time.After(20 * time.Second)
	for !n.Status().Synced {
		select {
		case <-n.Changed():
		case err := <-done:
			return "", func() { os.RemoveAll(state) }, fmt.Errorf("node stopped: %v", err)
		case <-deadline:
			stop()
			return "", nil, fmt.Errorf("single-node ring did not form")
		}
	}
	return prefix, stop, nil
}
