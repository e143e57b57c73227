package ipc

// Hooks for the external tests.

// RingPostForTest posts a ring's semaphore as a writer would.
func RingPostForTest(r *Ring) error { return r.sem.post() }

// GuardForTest runs f with memory faults turned into errors.
func GuardForTest(f func() ([]byte, error)) (out []byte, err error) {
	err = guard(func() error { var e error; out, e = f(); return e })
	return out, err
}
