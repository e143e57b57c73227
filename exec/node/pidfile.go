package node

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// DefaultPidFile is Corosync's lock file.
const DefaultPidFile = "/var/run/corosync.pid"

// ErrAlreadyRunning says another daemon holds the pid file lock.
var ErrAlreadyRunning = errors.New("another Corosync instance is already running")

// PidFile is a held pid lock file.
type PidFile struct {
	f *os.File
}

// LockPidFile takes a write lock on path (fcntl, like Corosync, so that a
// corosync and a ringfenced exclude each other) and writes our pid into it.
// The lock goes away with the process, so a SIGKILLed daemon never
// leaves a stale lock behind.
func LockPidFile(path string) (*PidFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot open pid file: %w", err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return nil, ErrAlreadyRunning
		}
		return nil, fmt.Errorf("cannot lock pid file %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, err
	}
	return &PidFile{f: f}, nil
}

// Release removes the file and drops the lock.
func (p *PidFile) Release() error {
	if p == nil || p.f == nil {
		return nil
	}
	os.Remove(p.f.Name())
	err := p.f.Close()
	p.f = nil
	return err
}
