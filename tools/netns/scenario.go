package netns

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Scenario is a script of cluster events and expectations, one step a
// line (testdata/netns/*.txt):
//
//	hosts 3                          first line: cluster size
//	daemon token=1000 transport=udpu corosync.conf settings (optional)
//	start 1 2 3                      start the daemon on hosts
//	kill 3 | stop 3 | cont 3         SIGKILL, SIGSTOP, SIGCONT the daemon
//	cut 3 | heal 3                   take a host's link down / up
//	block 1 3 | unblock 1 3          drop / pass what host 1 sends to 3
//	loss 5% 1 2 3                    drop 5% of each host's packets both
//	                                 ways (netem, else nftables); 0% clears
//	delay 20ms 1 2                   add latency both ways (needs netem)
//	expect 1 2 = 1 2 within 10s      hosts 1 and 2 list members 1 and 2
//	sleep 500ms
//
// "#" starts a comment. Times in expect lines are limits, not targets.
type Scenario struct {
	Hosts  int
	Daemon CorosyncOptions
	Steps  []Step
}

// Step is one line of a scenario.
type Step struct {
	Line    int
	Op      string
	Hosts   []int
	Members []uint32
	Within  time.Duration
	Percent float64 // loss
}

// ParseScenario reads a scenario; errors name the line.
func ParseScenario(name string, r io.Reader) (*Scenario, error) {
	s := &Scenario{}
	sc := bufio.NewScanner(r)
	line := 0
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		op, args := f[0], f[1:]
		if s.Hosts == 0 && op != "hosts" {
			return nil, errf("first step must be \"hosts N\"")
		}
		switch op {
		case "hosts":
			if s.Hosts != 0 {
				return nil, errf("hosts given twice")
			}
			if len(args) != 1 {
				return nil, errf("hosts takes one number")
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > MaxHosts {
				return nil, errf("bad host count %q (1..%d)", args[0], MaxHosts)
			}
			s.Hosts = n
		case "daemon":
			for _, kv := range args {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, errf("daemon setting %q is not key=value", kv)
				}
				switch k {
				case "token":
					n, err := strconv.Atoi(v)
					if err != nil || n <= 0 {
						return nil, errf("bad token %q", v)
					}
					s.Daemon.Token = n
				case "transport":
					if v != "udpu" && v != "udp" {
						return nil, errf("transport %q: want udpu or udp", v)
					}
					s.Daemon.Transport = v
				default:
					return nil, errf("unknown daemon setting %q", k)
				}
			}
		case "start", "kill", "stop", "cont", "cut", "heal":
			hosts, err := s.hostList(args)
			if err != nil || len(hosts) == 0 {
				return nil, errf("%s needs host numbers: %v", op, err)
			}
			s.Steps = append(s.Steps, Step{Line: line, Op: op, Hosts: hosts})
		case "block", "unblock":
			hosts, err := s.hostList(args)
			if err != nil || len(hosts) != 2 || hosts[0] == hosts[1] {
				return nil, errf("%s needs two different hosts: %v", op, err)
			}
			s.Steps = append(s.Steps, Step{Line: line, Op: op, Hosts: hosts})
		case "loss", "delay":
			if len(args) < 2 {
				return nil, errf("%s needs an amount and host numbers", op)
			}
			hosts, err := s.hostList(args[1:])
			if err != nil {
				return nil, errf("%v", err)
			}
			st := Step{Line: line, Op: op, Hosts: hosts}
			if op == "loss" {
				p, err := strconv.ParseFloat(strings.TrimSuffix(args[0], "%"), 64)
				if err != nil || !strings.HasSuffix(args[0], "%") || p < 0 || p > 100 {
					return nil, errf("bad loss %q (0%%..100%%)", args[0])
				}
				st.Percent = p
			} else {
				d, err := time.ParseDuration(args[0])
				if err != nil || d <= 0 || d > time.Minute {
					return nil, errf("bad delay %q", args[0])
				}
				st.Within = d
			}
			s.Steps = append(s.Steps, st)
		case "expect":
			eq := slices.Index(args, "=")
			wi := slices.Index(args, "within")
			if eq < 1 || wi < eq || wi != len(args)-2 {
				return nil, errf("expect HOSTS = MEMBERS within DURATION")
			}
			hosts, err := s.hostList(args[:eq])
			if err != nil {
				return nil, errf("%v", err)
			}
			members, err := s.hostList(args[eq+1 : wi])
			if err != nil {
				return nil, errf("%v", err)
			}
			d, err := time.ParseDuration(args[wi+1])
			if err != nil || d <= 0 {
				return nil, errf("bad duration %q", args[wi+1])
			}
			st := Step{Line: line, Op: op, Hosts: hosts, Within: d}
			for _, m := range members {
				st.Members = append(st.Members, uint32(m))
			}
			s.Steps = append(s.Steps, st)
		case "sleep":
			if len(args) != 1 {
				return nil, errf("sleep takes one duration")
			}
			d, err := time.ParseDuration(args[0])
			if err != nil || d < 0 || d > time.Hour {
				return nil, errf("bad duration %q", args[0])
			}
			s.Steps = append(s.Steps, Step{Line: line, Op: op, Within: d})
		default:
			return nil, errf("unknown step %q", op)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if s.Hosts == 0 {
		return nil, fmt.Errorf("%s: empty scenario", name)
	}
	return s, nil
}

func (s *Scenario) hostList(args []string) ([]int, error) {
	var hs []int
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > s.Hosts {
			return nil, fmt.Errorf("bad host %q (1..%d)", a, s.Hosts)
		}
		hs = append(hs, n)
	}
	return hs, nil
}

// Run plays the scenario on c (built with s.Hosts hosts). logf reports
// each expectation as it is met, with the time it took.
func (s *Scenario) Run(c *Cluster, logf func(string, ...any)) error {
	if len(c.Hosts) != s.Hosts {
		return fmt.Errorf("scenario wants %d hosts, cluster has %d", s.Hosts, len(c.Hosts))
	}
	conf, err := c.WriteCorosyncConf(s.Daemon)
	if err != nil {
		return err
	}
	procs := make([]*Proc, s.Hosts+1)
	last := time.Now() // time of the last event, expectations count from it
	for _, st := range s.Steps {
		fail := func(err error) error { return fmt.Errorf("line %d (%s): %w", st.Line, st.Op, err) }
		if st.Op != "expect" && st.Op != "sleep" {
			last = time.Now()
		}
		switch st.Op {
		case "start":
			for _, i := range st.Hosts {
				p, err := c.Hosts[i-1].StartDaemon(conf, s.Daemon.Daemon...)
				if err != nil {
					return fail(err)
				}
				procs[i] = p
			}
		case "kill", "stop", "cont":
			for _, i := range st.Hosts {
				p := procs[i]
				if p == nil {
					return fail(fmt.Errorf("no daemon started on host %d", i))
				}
				var err error
				switch st.Op {
				case "kill":
					err = p.Kill()
				case "stop":
					err = p.Stop()
				default:
					err = p.Cont()
				}
				if err != nil {
					return fail(err)
				}
			}
		case "cut", "heal":
			for _, i := range st.Hosts {
				h := c.Hosts[i-1]
				if err := map[string]func() error{"cut": h.Cut, "heal": h.Heal}[st.Op](); err != nil {
					return fail(err)
				}
			}
		case "block", "unblock":
			a, b := c.Hosts[st.Hosts[0]-1], c.Hosts[st.Hosts[1]-1]
			f := a.Block
			if st.Op == "unblock" {
				f = a.Unblock
			}
			if err := f(b); err != nil {
				return fail(err)
			}
		case "loss", "delay":
			for _, i := range st.Hosts {
				h := c.Hosts[i-1]
				var err error
				switch {
				case st.Op == "delay":
					err = h.Delay(st.Within, 0, Both)
				case st.Percent == 0:
					err = h.ClearLoss()
				default:
					err = h.Loss(st.Percent, Both)
				}
				if err != nil {
					return fail(err)
				}
			}
		case "sleep":
			time.Sleep(st.Within)
		case "expect":
			for _, i := range st.Hosts {
				ctx, cancel := context.WithDeadline(context.Background(), last.Add(st.Within))
				d, err := c.Hosts[i-1].WaitMembers(ctx, last, st.Members, PollInterval)
				cancel()
				if err != nil {
					return fail(err)
				}
				logf("line %d: host %d has members %v after %v", st.Line, i, st.Members, d.Round(time.Millisecond))
			}
		}
	}
	return nil
}
