package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ringfence/ringfence/tools/netns"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	nodes := fs.String("nodes", "3", "comma-separated cluster sizes")
	token := fs.Int("token", 1000, "totem.token in ms")
	transport := fs.String("transport", "udpu", "udpu or udp")
	daemon := fs.String("daemon", strings.Join(netns.DaemonCommand(), " "), "daemon command (started as DAEMON -f -c CONF)")
	asJSON := fs.Bool("json", false, "print results as JSON lines")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up a wait after this long")
	fs.Parse(os.Args[2:])
	sizes, err := parseSizes(*nodes)
	if err != nil {
		fatal(err)
	}
	o := netns.CorosyncOptions{Token: *token, Transport: *transport, Daemon: strings.Fields(*daemon)}
	switch os.Args[1] {
	case "failover":
		for _, n := range sizes {
			r, err := measure(n, o, *timeout)
			if err != nil {
				fatal(err)
			}
			if *asJSON {
				json.NewEncoder(os.Stdout).Encode(map[string]any{
					"daemon": o.Daemon, "nodes": r.Nodes, "token_ms": *token,
					"form_s": r.Form.Seconds(), "kill_s": r.Kill.Seconds(), "rejoin_s": r.Rejoin.Seconds(),
					"cut_s": r.Cut.Seconds(), "heal_s": r.Heal.Seconds(),
				})
			} else {
				fmt.Println(r)
			}
		}
	case "shell":
		if err := shell(sizes[0], o, *timeout); err != nil {
			fatal(err)
		}
	default:
		usage()
	}
}

func measure(n int, o netns.CorosyncOptions, timeout time.Duration) (netns.Failover, error) {
	c, err := netns.New(n, netns.Options{})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return netns.Failover{}, err
	}
	stop := closeOnSignal(c)
	defer stop()
	return c.MeasureFailover(o, timeout)
}

func shell(n int, o netns.CorosyncOptions, timeout time.Duration) error {
	c, err := netns.New(n, netns.Options{})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	_, procs, formed, err := c.StartRing(ctx, o)
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("ring of %d formed in %v; logs and config in %s\n", n, formed.Round(time.Millisecond), c.Dir())
	for i, h := range c.Hosts {
		fmt.Printf("host %d  %-13s  nsenter -t %d -m -n corosync-quorumtool -s\n", h.Index, h.Addr, procs[i].Pid)
	}
	fmt.Println("^C removes everything")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

// closeOnSignal tears the cluster down on ^C so no namespace outlives us.
func closeOnSignal(c *netns.Cluster) func() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			c.Close()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

func parseSizes(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > netns.MaxHosts {
			return nil, fmt.Errorf("bad cluster size %q (2..%d)", f, netns.MaxHosts)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rfnetns failover|shell [-nodes 3,16] [-token 1000] [-transport udpu] [-daemon CMD] [-json]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "rfnetns:", err)
	os.Exit(1)
}
