package netns

import (
	"context"
	"fmt"
	"time"
)

// PollInterval is how often the measurements ask a host for its members.
const PollInterval = 50 * time.Millisecond

// StartRing writes the config, starts the daemon on every host and waits
// until each lists every node. formed is how long host 1 (polled first)
// took, counted from the first start.
func (c *Cluster) StartRing(ctx context.Context, o CorosyncOptions) (conf string, procs []*Proc, formed time.Duration, err error) {
	conf, err = c.WriteCorosyncConf(o)
	if err != nil {
		return "", nil, 0, err
	}
	start := time.Now()
	procs = make([]*Proc, len(c.Hosts))
	for i, h := range c.Hosts {
		if procs[i], err = h.StartDaemon(conf, o.Daemon...); err != nil {
			return conf, procs, 0, err
		}
	}
	all := Indices(c.Hosts...)
	for i, h := range c.Hosts {
		d, err := h.WaitMembers(ctx, start, all, PollInterval)
		if err != nil {
			return conf, procs, 0, fmt.Errorf("ring did not form: %w", err)
		}
		if i == 0 {
			formed = d
		}
	}
	return conf, procs, formed, nil
}

// Failover holds one round of measurements, each as seen from host 1.
type Failover struct {
	Nodes int
	// Form: start of all daemons → host 1 lists every node.
	Form time.Duration
	// Kill: SIGKILL of the last node's daemon → host 1 lists the others.
	Kill time.Duration
	// Rejoin: restart of that daemon → host 1 lists every node.
	Rejoin time.Duration
	// Cut: the last node's link down → host 1 lists the others.
	Cut time.Duration
	// Heal: link up again → host 1 lists every node.
	Heal time.Duration
}

func (f Failover) String() string {
	return fmt.Sprintf("%d nodes: form %.2fs, SIGKILL %.2fs, rejoin %.2fs, link cut %.2fs, heal %.2fs",
		f.Nodes, f.Form.Seconds(), f.Kill.Seconds(), f.Rejoin.Seconds(), f.Cut.Seconds(), f.Heal.Seconds())
}

// MeasureFailover runs one round on an already built cluster with no
// daemons running: form, kill and restart the last node, cut and heal its
// link. Each wait gives up after timeout.
func (c *Cluster) MeasureFailover(o CorosyncOptions, timeout time.Duration) (Failover, error) {
	n := len(c.Hosts)
	r := Failover{Nodes: n}
	if n < 2 {
		return r, fmt.Errorf("netns: failover needs 2 or more hosts")
	}
	observer, victim := c.Hosts[0], c.Hosts[n-1]
	all, rest := Indices(c.Hosts...), Indices(c.Hosts[:n-1]...)
	wait := func(start time.Time, want []uint32) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return observer.WaitMembers(ctx, start, want, PollInterval)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	conf, procs, formed, err := c.StartRing(ctx, o)
	cancel()
	if err != nil {
		return r, err
	}
	r.Form = formed

	start := time.Now()
	if err := procs[n-1].Kill(); err != nil {
		return r, err
	}
	if r.Kill, err = wait(start, rest); err != nil {
		return r, fmt.Errorf("after SIGKILL: %w", err)
	}
	start = time.Now()
	if _, err := victim.StartDaemon(conf, o.Daemon...); err != nil {
		return r, err
	}
	if r.Rejoin, err = wait(start, all); err != nil {
		return r, fmt.Errorf("after restart: %w", err)
	}
	start = time.Now()
	if err := victim.Cut(); err != nil {
		return r, err
	}
	if r.Cut, err = wait(start, rest); err != nil {
		return r, fmt.Errorf("after link cut: %w", err)
	}
	start = time.Now()
	if err := victim.Heal(); err != nil {
		return r, err
	}
	if r.Heal, err = wait(start, all); err != nil {
		return r, fmt.Errorf("after heal: %w", err)
	}
	return r, nil
}
