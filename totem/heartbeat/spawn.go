package heartbeat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childPath is the daemon's side of the responder process (child.go): it
// plays the part of the XDP path for the engine (kernelPath).
type childPath struct {
	shm     *shm
	cmd     *exec.Cmd
	life    *os.File // our end of the socketpair; closing it stops the responder
	done    chan struct{}
	closing atomic.Bool
}

// readyTimeout bounds the responder's start (a Go binary's start-up on a
// loaded 2-core machine takes tens of ms; this is only the give-up point).
const readyTimeout = 5 * time.Second

// startChild starts the responder process on the engine's sockets.
// onExit is called if it dies while the engine still runs.
func startChild(cfg Config, conns []Conn, onExit func(error)) (*childPath, error) {
	if !hooked.Load() {
		return nil, errors.New("this binary does not call heartbeat.ResponderMain")
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var links []uint8
	peers := 0
	for i, c := range conns {
		u, ok := c.(udpConn)
		if !ok {
			return nil, errors.New("links are not UDP sockets")
		}
		f, err := u.c.File()
		if err != nil {
			return nil, fmt.Errorf("dup link %d socket: %w", cfg.Links[i].Number, err)
		}
		files = append(files, f)
		links = append(links, cfg.Links[i].Number)
		peers += len(cfg.Links[i].Peers)
	}
	s, err := newShm(max(64, 4*peers))
	if err != nil {
		return nil, err
	}
	s.word(shmGrace).Store(uint64(cfg.Grace))
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	// Our end is non-blocking, so that waiting for the ready byte can
	// time out.
	_ = unix.SetNonblock(pair[0], true)
	life := os.NewFile(uintptr(pair[0]), "heartbeat lifeline")
	theirs := os.NewFile(uintptr(pair[1]), "heartbeat lifeline")
	shmFile := os.NewFile(uintptr(s.fd), "heartbeat shm")
	cmd := &exec.Cmd{
		Path: "/proc/self/exe", // the running binary, even if upgraded on disk
		Args: []string{os.Args[0], "(heartbeat responder)"},
		// One P is plenty for a few hundred packets a second.
		Env:        append(os.Environ(), responderEnv+"="+responderSpec(cfg.NodeID, links), "GOMAXPROCS=1"),
		Stderr:     os.Stderr,
		ExtraFiles: append([]*os.File{shmFile, theirs}, files...),
		// The kernel kills the responder with the daemon, like the XDP
		// program goes with its last link; the lifeline's EOF covers
		// the same and the thread caveat below.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	// The mapping outlives the descriptor: once the responder has its
	// copy, ours goes (the *os.File owns it, s no longer does).
	s.fd = -1
	defer shmFile.Close()
	fail := func(err error) (*childPath, error) {
		life.Close()
		theirs.Close()
		s.close()
		return nil, err
	}
	// Pdeathsig fires when the thread that forked exits, not the
	// process. A goroutine locked to its thread (the netns harness's
	// Do, for one) may end that thread, so fork from a fresh goroutine:
	// Go only ends threads of locked goroutines.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	if err := <-started; err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	theirs.Close()
	c := &childPath{shm: s, cmd: cmd, life: life, done: make(chan struct{})}
	// ok says once whether the start succeeded: a responder that dies
	// during Open is Open's failure, not onExit's.
	ok := make(chan bool, 1)
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		if <-ok && !c.closing.Load() && onExit != nil {
			onExit(exitErr)
		}
		close(c.done)
	}()
	_ = life.SetReadDeadline(time.Now().Add(readyTimeout))
	var b [1]byte
	if _, err := life.Read(b[:]); err != nil {
		ok <- false
		_ = cmd.Process.Kill()
		<-c.done
		life.Close()
		s.close()
		return nil, fmt.Errorf("no ready signal (%v, exit: %v)", err, exitErr)
	}
	_ = life.SetReadDeadline(time.Time{})
	ok <- true
	return c, nil
}

func (c *childPath) Mode() string {
	return fmt.Sprintf("userspace (responder process %d)", c.cmd.Process.Pid)
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

// Close stops the responder and waits for it.
func (c *childPath) Close() error {
	c.closing.Store(true)
	c.life.Close()
	_ = c.cmd.Process.Kill()
	<-c.done
	c.shm.close()
	return nil
}
