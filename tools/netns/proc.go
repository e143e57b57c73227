package netns

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is a process started on a host.
type Proc struct {
	Name    string
	Pid     int
	LogPath string

	host   *Host
	cmd    *exec.Cmd
	logf   *os.File
	done   chan struct{}
	err    error
	holder bool
}

func newProc(h *Host, name string, cmd *exec.Cmd, logPath string, logf *os.File) *Proc {
	p := &Proc{Name: name, Pid: cmd.Process.Pid, LogPath: logPath, host: h, cmd: cmd, logf: logf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p
}

func (c *Cluster) track(p *Proc) {
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
}

// Host is where the process runs.
func (p *Proc) Host() *Host { return p.host }

// Kill sends SIGKILL, the crash the failover tests want.
func (p *Proc) Kill() error { return p.signal(syscall.SIGKILL) }

// Stop freezes the process (SIGSTOP); Cont resumes it.
func (p *Proc) Stop() error { return p.signal(syscall.SIGSTOP) }

// Cont resumes a stopped process.
func (p *Proc) Cont() error { return p.signal(syscall.SIGCONT) }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.signal(sig) }

func (p *Proc) signal(sig syscall.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	return syscall.Kill(p.Pid, sig)
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end and returns its exit error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when the process ends.
func (p *Proc) Done() <-chan struct{} { return p.done }

func (p *Proc) waitTimeout(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// killGroup kills the process and anything it started (it leads its own
// process group); a stopped process is continued so it can die.
func (p *Proc) killGroup() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = syscall.Kill(p.Pid, syscall.SIGKILL)
	_ = syscall.Kill(p.Pid, syscall.SIGCONT)
}
