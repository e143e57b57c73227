package heartbeat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// childPath is the daemon's side of the responder process (child.go): it
// plays the part of the XDP path for the engine (kernelPath).
//
// A responder that dies on its own (killed by an operator or the OOM
// killer, a crash) is started again on the same shared memory and
// sockets: while none runs, nobody answers the probes and the peers
// soon take this live node for dead. The new one takes over the records
// its predecessor left, so the counts the engine judges by keep growing.
// Restarts back off, so that a responder that keeps dying does not spin;
// when one cannot be started, or keeps dying young, the supervisor gives
// up and onExit has the daemon answer itself.
type childPath struct {
	shm   *shm
	spec  string     // responderEnv's value
	socks []*os.File // the links' sockets, kept for restarts
	shmF  *os.File   // the memory's descriptor, kept for restarts
	log   *logrus.Entry

	mu      sync.Mutex // cmd and life, replaced by each start
	cmd     *exec.Cmd
	life    *os.File      // our end of the socketpair; closing it stops the responder
	pid     atomic.Int64  // the running responder's; 0 while none runs
	starts  atomic.Uint64 // processes started, the first included
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the supervisor returns
	closing atomic.Bool
}

// readyTimeout bounds the responder's start (a Go binary's start-up on a
// loaded 2-core machine takes tens of ms; this is only the give-up point).
const readyTimeout = 5 * time.Second

// Restart policy. The first restart is immediate: the peers report a
// silent node after Misses intervals (200 ms by default). A responder
// that ran for stableAfter was not crash-looping, and restarts from the
// first delay again; maxQuickDeaths deaths in a row, each younger than
// that, and the daemon answers itself.
var (
	restartDelays  = []time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}
	stableAfter    = 30 * time.Second
	maxQuickDeaths = 5
)

// startChild starts the responder process on the engine's sockets.
// onExit is called if it dies while the engine still runs and cannot be
// started again.
func startChild(cfg Config, conns []Conn, onExit func(error)) (*childPath, error) {
	if !hooked.Load() {
		return nil, errors.New("this binary does not call heartbeat.ResponderMain")
	}
	var files []*os.File
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	var links []uint8
	peers := 0
	for i, c := range conns {
		u, ok := c.(udpConn)
		if !ok {
			closeFiles()
			return nil, errors.New("links are not UDP sockets")
		}
		f, err := u.c.File()
		if err != nil {
			closeFiles()
			return nil, fmt.Errorf("dup link %d socket: %w", cfg.Links[i].Number, err)
		}
		files = append(files, f)
		links = append(links, cfg.Links[i].Number)
		peers += len(cfg.Links[i].Peers)
	}
	s, err := newShm(max(64, 4*peers))
	if err != nil {
		closeFiles()
		return nil, err
	}
	s.word(shmGrace).Store(uint64(cfg.Grace))
	// The *os.File owns the descriptor from here; the mapping outlives it.
	shmF := os.NewFile(uintptr(s.fd), "heartbeat shm")
	s.fd = -1
	c := &childPath{
		shm: s, spec: responderSpec(cfg.NodeID, links), socks: files, shmF: shmF, log: cfg.Log,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	exited, err := c.spawn()
	if err != nil {
		c.release()
		return nil, err
	}
	go c.supervise(exited, onExit)
	return c, nil
}

// spawn starts one responder process and waits for its ready byte. The
// returned channel yields its exit once it is gone.
func (c *childPath) spawn() (<-chan error, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	// Our end is non-blocking, so that waiting for the ready byte can
	// time out.
	_ = unix.SetNonblock(pair[0], true)
	life := os.NewFile(uintptr(pair[0]), "heartbeat lifeline")
	theirs := os.NewFile(uintptr(pair[1]), "heartbeat lifeline")
	cmd := &exec.Cmd{
		Path: "/proc/self/exe", // the running binary, even if upgraded on disk
		Args: []string{os.Args[0], "(heartbeat responder)"},
		// One P is plenty for a few hundred packets a second.
		Env:        append(os.Environ(), responderEnv+"="+c.spec, "GOMAXPROCS=1"),
		Stderr:     os.Stderr,
		ExtraFiles: append([]*os.File{c.shmF, theirs}, c.socks...),
		// The kernel kills the responder with the daemon, like the XDP
		// program goes with its last link; the lifeline's EOF covers
		// the same and the thread caveat below.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	// Pdeathsig fires when the thread that forked exits, not the
	// process. A goroutine locked to its thread (the netns harness's
	// Do, for one) may end that thread, so fork from a fresh goroutine:
	// Go only ends threads of locked goroutines.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	err = <-started
	theirs.Close()
	if err != nil {
		life.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	_ = life.SetReadDeadline(time.Now().Add(readyTimeout))
	var b [1]byte
	if _, err := life.Read(b[:]); err != nil {
		_ = cmd.Process.Kill()
		exitErr := <-exited
		life.Close()
		return nil, fmt.Errorf("no ready signal (%v, exit: %v)", err, exitErr)
	}
	_ = life.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.cmd, c.life = cmd, life
	c.mu.Unlock()
	c.pid.Store(int64(cmd.Process.Pid))
	c.starts.Add(1)
	return exited, nil
}

// supervise waits for the running responder to exit and, unless the
// engine is closing, starts another one (see the restart policy); when
// it gives up, onExit hands the answering to the daemon.
func (c *childPath) supervise(exited <-chan error, onExit func(error)) {
	defer close(c.done)
	quick := 0
	for {
		born := time.Now()
		err := <-exited
		c.pid.Store(0)
		c.mu.Lock()
		c.life.Close()
		c.mu.Unlock()
		if c.closing.Load() {
			return
		}
		pid := c.cmd.Process.Pid
		if time.Since(born) >= stableAfter {
			quick = 0
		}
		if quick >= maxQuickDeaths {
			c.giveUp(fmt.Errorf("it died %d times in a row within %v of its start (last: %v)", quick+1, stableAfter, err), onExit)
			return
		}
		delay := restartDelays[min(quick, len(restartDelays)-1)]
		quick++
		c.log.WithError(err).Warnf("heartbeat: the responder process %d exited; starting another in %v", pid, delay)
		select {
		case <-time.After(delay):
		case <-c.stop:
			return
		}
		if exited, err = c.spawn(); err != nil {
			c.giveUp(fmt.Errorf("cannot start another: %w", err), onExit)
			return
		}
		if c.closing.Load() {
			// Close ran while it started: it killed the previous one.
			c.kill()
			<-exited
			return
		}
		c.log.Infof("heartbeat: responder process %d answers again", c.pid.Load())
	}
}

func (c *childPath) giveUp(err error, onExit func(error)) {
	if onExit != nil && !c.closing.Load() {
		onExit(err)
	}
}

func (c *childPath) Mode() string {
	if pid := c.pid.Load(); pid != 0 {
		return fmt.Sprintf("userspace (responder process %d)", pid)
	}
	return "userspace (responder process restarting)"
}

// Stamp stores the stamp and grace in the shared memory the responder
// checks on every probe.
func (c *childPath) Stamp(now, grace uint64) error {
	c.shm.word(shmGrace).Store(grace)
	c.shm.word(shmStamp).Store(now)
	return nil
}

func (c *childPath) Lookup(k Key) (Record, error) {
	for i := range c.shm.count() {
		if sk, r := c.shm.read(i); sk == k {
			return r, nil
		}
	}
	return Record{}, nil
}

func (c *childPath) Dump(into map[Key]Record) error {
	for i := range c.shm.count() {
		k, r := c.shm.read(i)
		into[k] = r
	}
	return nil
}

func (c *childPath) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.life.Close()
	_ = c.cmd.Process.Kill()
}

// Close stops the responder (and its supervisor) and waits for them.
func (c *childPath) Close() error {
	c.closing.Store(true)
	close(c.stop)
	c.kill()
	<-c.done
	c.release()
	return nil
}

// release frees what the responders were started with.
func (c *childPath) release() {
	for _, f := range c.socks {
		f.Close()
	}
	c.shmF.Close()
	c.shm.close()
}
