package sim

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/votequorum"
)

// Faults selects what the random run injects while faults are on.
type Faults struct {
	Loss       float64 // highest packet loss rate (up to 0.3)
	Dup        float64
	MaxDelay   time.Duration // jitter; delays above the token retransmit reorder tokens too
	Partitions bool
	Asymmetric bool
	Crashes    bool
	Leaves     bool
}

// AllFaults turns on everything.
func AllFaults() Faults {
	return Faults{Loss: 0.3, Dup: 0.05, MaxDelay: 5 * time.Millisecond, Partitions: true, Asymmetric: true, Crashes: true, Leaves: true}
}

// RunConfig describes one randomised run.
type RunConfig struct {
	Seed        int64
	Nodes       int
	Faults      Faults
	FaultPhase  time.Duration // virtual time with faults and traffic
	SettleLimit time.Duration // virtual time allowed to converge afterwards
	MsgPerSec   float64       // application broadcasts per virtual second, whole cluster
	Timing      *srp.Timing   // nil: Corosync defaults scaled to token 300 ms
	// Quorum runs a votequorum machine on every node and checks that no
	// two partitions are quorate at once (QuorumOff by default).
	Quorum QuorumMode
	Trace  bool
}

// Result is the outcome of one run.
type Result struct {
	Seed      int64
	Nodes     int
	Err       error
	Delivered uint64
	Confs     uint64
	Packets   uint64
	Converge  time.Duration // virtual time from heal to convergence
	// QuorumChecks counts split-brain checks (0 with quorum off).
	QuorumChecks uint64
	Trace        []string
}

// SimTiming is the timing the random runs use: Corosync's formulas with a
// 300 ms token so that rings reform quickly in virtual time.
func SimTiming(nodes int) srp.Timing {
	return srp.TimingFromConfig(srp.BaseTiming{Token: 300 * time.Millisecond, TokenCoefficientSet: true}, nodes)
}

// Run executes one seeded run: faults and traffic, then heal everything and
// demand convergence and complete delivery.
func Run(rc RunConfig) Result {
	if rc.FaultPhase == 0 {
		rc.FaultPhase = 10 * time.Second
	}
	if rc.SettleLimit == 0 {
		rc.SettleLimit = 30 * time.Second
	}
	if rc.MsgPerSec == 0 {
		rc.MsgPerSec = 100
	}
	timing := SimTiming(rc.Nodes)
	if rc.Timing != nil {
		timing = *rc.Timing
	}
	ids := make([]uint32, rc.Nodes)
	for i := range ids {
		ids[i] = uint32(i + 1)
	}
	s := New(rc.Seed, ids, timing)
	qdesc := ""
	if rc.Quorum != QuorumOff {
		var qc func(uint32) votequorum.Config
		qc, qdesc = quorumConfigFor(rc.Quorum, rc.Seed, ids)
		s.EnableQuorum(qc)
	}
	s.MaxEvents = 3_000_000
	s.AckDelayMax = 100 * time.Millisecond
	if rc.Trace {
		s.EnableTrace()
	}
	r := rand.New(rand.NewSource(rc.Seed ^ 0x5eed))
	f := rc.Faults
	s.Dup = f.Dup
	if f.MaxDelay > s.MaxDelay {
		s.MaxDelay = f.MaxDelay
	}

	for _, id := range ids {
		id := id
		s.Schedule(time.Duration(r.Int63n(int64(500*time.Millisecond))), func() { _ = s.Start(id) })
	}
	// Application traffic.
	if rc.MsgPerSec > 0 {
		mean := float64(time.Second) / rc.MsgPerSec
		for t := time.Duration(0); t < rc.FaultPhase; {
			t += time.Duration(r.ExpFloat64() * mean)
			id := ids[r.Intn(len(ids))]
			k := t
			s.Schedule(t, func() {
				if s.Up(id) {
					_ = s.Broadcast(id, fmt.Sprintf("m@%d", k.Milliseconds()))
				}
			})
		}
	}
	// Faults.
	for t := time.Second; t < rc.FaultPhase; t += time.Duration(200+r.Intn(1800)) * time.Millisecond {
		s.Schedule(t, randomFault(s, r, f, ids))
	}
	res := Result{Seed: rc.Seed, Nodes: rc.Nodes}
	err := s.RunUntil(rc.FaultPhase)
	if err == nil {
		s.Loss, s.Dup = 0, 0
		s.MaxDelay = time.Millisecond
		s.Heal()
		for _, id := range ids {
			if !s.Up(id) {
				_ = s.Start(id)
			}
		}
		healed := s.Now()
		for err == nil && !s.Converged() && s.Now()-healed < rc.SettleLimit {
			err = s.RunFor(100 * time.Millisecond)
		}
		if err == nil && !s.Converged() {
			err = fmt.Errorf("liveness: no single ring %s after healing:\n%s", rc.SettleLimit, s.Describe())
		}
		res.Converge = s.Now() - healed
		if err == nil {
			err = s.RunFor(2 * time.Second)
		}
		if err == nil {
			s.Check.CheckFinal(s)
			err = s.Check.Err()
		}
		if err == nil && rc.Quorum != QuorumOff {
			err = s.checkQuorumFinal(qdesc)
		}
	}
	res.Err = err
	res.QuorumChecks = s.QuorumChecks
	res.Delivered = s.Delivered
	res.Confs = s.Check.Confs
	res.Packets = s.Packets
	res.Trace = s.TraceLog
	return res
}

func randomFault(s *Sim, r *rand.Rand, f Faults, ids []uint32) func() {
	return func() {
		var up, down []uint32
		for _, id := range ids {
			if s.Up(id) {
				up = append(up, id)
			} else {
				down = append(down, id)
			}
		}
		if f.Loss > 0 {
			s.Loss = r.Float64() * f.Loss
		}
		switch k := r.Intn(100); {
		case k < 25 && f.Partitions && len(ids) > 1:
			groups := make([][]uint32, 1+r.Intn(3))
			for _, id := range ids {
				g := r.Intn(len(groups))
				groups[g] = append(groups[g], id)
			}
			s.Partition(groups...)
		case k < 45:
			s.Heal()
		case k < 60 && f.Crashes && len(up) > 1:
			s.Crash(up[r.Intn(len(up))])
		case k < 75 && len(down) > 0:
			_ = s.Start(down[r.Intn(len(down))])
		case k < 85 && f.Asymmetric && len(ids) > 1:
			a := ids[r.Intn(len(ids))]
			b := ids[r.Intn(len(ids))]
			if a != b {
				s.Block(a, b)
			}
		case k < 92 && f.Leaves && len(up) > 1:
			s.Leave(up[r.Intn(len(up))])
		}
	}
}
