package ipc

import (
	"fmt"
	"runtime/debug"
)

// guard runs f with memory faults turned into errors. A client owns its
// shared-memory files and may truncate them under us; touching a page that
// no longer exists raises SIGBUS, which would otherwise kill the daemon.
func guard(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			if re, ok := p.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("%w: memory fault at %#x", ErrRingCorrupt, re.Addr())
				return
			}
			panic(p)
		}
	}()
	return f()
}
