package node

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/heartbeat"
	"github.com/sirupsen/logrus"
)

// The resource monitoring service (Corosync's mon, service 6). It has no
// messages: it watches the memory in use and the 15-minute load average,
// under resources.system.memory_used.* and resources.system.load_15min.*
// (current, last_updated, state, poll_period). A resource is "stopped"
// until an operator sets its max (as a string, like every mon setting);
// it then runs, polls every poll_period ms, and turns "failed" once the
// value exceeds max. Corosync's quirks are kept: only string settings are
// read, a key created (not modified) changes nothing, the memory figure
// changes type from i32 to u32 at its first update, and removing max
// leaves a running resource "running" without polling.

const (
	monDefaultPeriod = 3000 * time.Millisecond
	monMinPeriod     = 500 * time.Millisecond
	monMaxPeriod     = 120 * time.Second
)

type monState string

const (
	monStopped monState = "stopped"
	monRunning monState = "running"
	monFailed  monState = "failed"
)

// monService registers the service id, so that its cmap entries exist
// as in Corosync; it has no exec handlers.
type monService struct{}

func (monService) ID() exec.ServiceID { return exec.ServiceMon }
func (monService) Name() string       { return "corosync resource monitoring service" }
func (monService) ExecCount() int     { return 0 }
func (monService) Deliver(uint32, uint16, []byte, bool) error {
	return errors.New("mon: the service has no exec messages")
}

// monResource is one watched resource.
type monResource struct {
	name   string
	path   string // resources.system.<name>.
	double bool   // load_15min: current and max are doubles
	read   func() (float64, bool)
	period time.Duration
	state  monState
	maxI   int32
	maxD   float64
	next   time.Time // next poll; zero: not polling
}

type monitor struct {
	store *cmap.Store
	log   *logrus.Entry
	res   []*monResource
	track *cmap.Tracker
}

func newMonitor(store *cmap.Store, log *logrus.Entry) *monitor {
	m := &monitor{store: store, log: log, res: []*monResource{
		{name: "memory_used", path: "resources.system.memory_used.", read: memoryUsedPercent},
		{name: "load_15min", path: "resources.system.load_15min.", double: true, read: load15},
	}}
	for _, r := range m.res {
		m.init(r)
	}
	m.track = store.Track("resources.system.", cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete|cmap.TrackPrefix, 64)
	return m
}

func (m *monitor) init(r *monResource) {
	r.period, r.state, r.maxI, r.maxD = monDefaultPeriod, monStopped, 1<<31-1, 1<<31-1
	if r.double {
		_ = m.store.Set(r.path+"current", cmap.Dbl(0))
	} else {
		_ = m.store.Set(r.path+"current", cmap.I32(0))
	}
	_ = m.store.Set(r.path+"last_updated", cmap.U64(0))
	_ = m.store.Set(r.path+"state", cmap.Str(string(monStopped)))
	if p, ok := m.stringSetting(r.path + "poll_period"); !ok {
		_ = m.store.Set(r.path+"poll_period", cmap.U64(uint64(r.period/time.Millisecond)))
	} else if ms, err := strconv.ParseUint(p, 10, 64); err != nil {
		_ = m.store.Set(r.path+"poll_period", cmap.U64(uint64(r.period/time.Millisecond)))
	} else if d := time.Duration(ms) * time.Millisecond; d >= monMinPeriod && d <= monMaxPeriod {
		r.period = d
	} else {
		m.log.Warnf("Could NOT use poll_period:%d ms for resource %s", ms, r.name)
	}
	m.configChanged(r, time.Now())
}

// stringSetting reads a setting the way Corosync does: string keys only.
func (m *monitor) stringSetting(key string) (string, bool) {
	s, err := m.store.GetString(key)
	return s, err == nil
}

func (m *monitor) setState(r *monResource, s monState, event string) {
	if r.state == s {
		return
	}
	m.log.Debugf("Fsm:%s event \"%s\", state \"%s\" --> \"%s\"", r.name, event, r.state, s)
	r.state = s
	_ = m.store.Set(r.path+"state", cmap.Str(string(s)))
}

// configChanged is mon_config_changed: re-read poll_period and max.
func (m *monitor) configChanged(r *monResource, now time.Time) {
	if p, ok := m.stringSetting(r.path + "poll_period"); ok {
		ms, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			m.log.Warnf("Could NOT use poll_period: %s (not uint64 type) for resource %s", p, r.name)
		}
		if d := time.Duration(ms) * time.Millisecond; d >= monMinPeriod && d <= monMaxPeriod {
			m.log.Debugf("poll_period changing from:%d to %d.", r.period/time.Millisecond, ms)
			r.period = d
		} else {
			m.log.Warnf("Could NOT use poll_period:%d ms for resource %s", ms, r.name)
		}
	}
	r.next = time.Time{}
	max, ok := m.stringSetting(r.path + "max")
	if !ok {
		return
	}
	if r.double {
		d, err := strconv.ParseFloat(strings.TrimSpace(max), 64)
		if err != nil {
			r.maxD = 1<<31 - 1
			m.setState(r, monStopped, "config_changed")
			return
		}
		r.maxD = d
	} else {
		i, err := strconv.ParseInt(strings.TrimSpace(max), 10, 32)
		if err != nil {
			r.maxI = 1<<31 - 1
			m.setState(r, monStopped, "config_changed")
			return
		}
		r.maxI = int32(i)
	}
	m.setState(r, monRunning, "config_changed")
	m.update(r, now)
}

// update polls the resource and re-arms its poll.
func (m *monitor) update(r *monResource, now time.Time) {
	if v, ok := r.read(); ok && v > 0 {
		if r.double {
			_ = m.store.Set(r.path+"current", cmap.Dbl(v))
		} else {
			_ = m.store.Set(r.path+"current", cmap.U32(uint32(v)))
		}
		// cs_timestamp_get: CLOCK_MONOTONIC in ns.
		_ = m.store.Set(r.path+"last_updated", cmap.U64(heartbeat.Monotonic()))
		over := v > r.maxD
		if !r.double {
			over = int32(v) > r.maxI
		}
		if over && r.state == monRunning {
			m.setState(r, monFailed, "failure")
		}
	}
	r.next = now.Add(r.period)
}

// tick handles the settings changed since the last call and the polls
// that are due; the loop calls it every 100 ms.
func (m *monitor) tick(now time.Time) {
	for {
		var ev cmap.Event
		select {
		case ev = <-m.track.Events():
		default:
			for _, r := range m.res {
				if !r.next.IsZero() && !now.Before(r.next) {
					m.update(r, now)
				}
			}
			return
		}
		for _, r := range m.res {
			if !strings.HasPrefix(ev.Key, r.path) {
				continue
			}
			switch ev.Kind {
			case cmap.EventDelete:
				m.log.Warnf("resource \"%s\" deleted from cmap!", r.name)
				m.configChanged(r, now)
			case cmap.EventModify:
				if last := ev.Key[strings.LastIndexByte(ev.Key, '.')+1:]; last == "max" || last == "poll_period" {
					m.configChanged(r, now)
				}
			}
		}
	}
}

// memoryUsedPercent is libstatgrab's figure as mon uses it: memory and
// swap in use (total minus free) as a percentage of their sum.
func memoryUsedPercent() (float64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	kb := map[string]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) > 0 {
			kb[name], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	total := kb["MemTotal"] + kb["SwapTotal"]
	if total <= 0 {
		return 0, false
	}
	free := kb["MemFree"] + kb["SwapFree"]
	return float64((total - free) * 100 / total), true
}

// load15 is the 15-minute load average.
func load15() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[2], 64)
	return v, err == nil
}
