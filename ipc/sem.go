package ipc

import (
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sem is a glibc (2.34+, 64-bit) process-shared sem_t living in shared
// memory: one 64-bit word holding the value in the low half and the number
// of blocked waiters in the high half. C peers block on it with a shared
// futex, so every post that finds waiters must wake them with a futex call
// that is not FUTEX_PRIVATE (the mapping is shared between processes).
type sem struct {
	data *uint64
}

const (
	semValueMask  = 0xffffffff
	semWaiterUnit = uint64(1) << 32
	semValueMax   = 0x7fffffff
	// glibc writes this into the "private" field of a pshared semaphore.
	semSharedMarker = 0x80

	futexWait = 0
	futexWake = 1
)

func newSem(p unsafe.Pointer) sem { return sem{data: (*uint64)(p)} }

// init sets value 0, no waiters, process-shared.
func (s sem) init() {
	atomic.StoreUint64(s.data, 0)
	b := unsafe.Slice((*byte)(unsafe.Pointer(s.data)), 32)
	clear(b[8:])
	*(*uint32)(unsafe.Pointer(&b[8])) = semSharedMarker
}

// value is the current count (sem_getvalue).
func (s sem) value() uint32 { return uint32(atomic.LoadUint64(s.data) & semValueMask) }

// post adds one and wakes a waiter if there is one.
func (s sem) post() error {
	for {
		d := atomic.LoadUint64(s.data)
		if d&semValueMask >= semValueMax {
			return syscall.EOVERFLOW
		}
		if atomic.CompareAndSwapUint64(s.data, d, d+1) {
			if d>>32 != 0 {
				futex(unsafe.Pointer(s.data), futexWake, 1, nil)
			}
			return nil
		}
	}
}

// tryWait takes one unit if the value is positive.
func (s sem) tryWait() bool {
	for {
		d := atomic.LoadUint64(s.data)
		if d&semValueMask == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(s.data, d, d-1) {
			return true
		}
	}
}

// wait blocks up to timeout for a unit, registering as a waiter the way
// glibc does so that C posters issue the futex wake. It reports whether a
// unit was taken.
func (s sem) wait(timeout time.Duration) bool {
	if s.tryWait() {
		return true
	}
	deadline := time.Now().Add(timeout)
	d := atomic.AddUint64(s.data, semWaiterUnit)
	for {
		if d&semValueMask != 0 {
			if atomic.CompareAndSwapUint64(s.data, d, d-1-semWaiterUnit) {
				return true
			}
			d = atomic.LoadUint64(s.data)
			continue
		}
		left := time.Until(deadline)
		if left <= 0 {
			atomic.AddUint64(s.data, ^(semWaiterUnit - 1)) // unregister
			return false
		}
		ts := unix.NsecToTimespec(int64(left))
		futex(unsafe.Pointer(s.data), futexWait, 0, &ts)
		d = atomic.LoadUint64(s.data)
	}
}

func futex(addr unsafe.Pointer, op int, val uint32, ts *unix.Timespec) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(addr), uintptr(op), uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}
