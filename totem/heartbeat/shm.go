package heartbeat

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The userspace responder process (see child.go) and the daemon share one
// memfd, mapped by both: the daemon writes the stamp and the grace, the
// responder the per peer/link records, what the XDP program's two maps
// hold. Every field is a 64-bit word read and written atomically; a
// reader may see one record's words from two updates, as with the BPF
// hash map, which the engine tolerates (each word only grows).
//
// Header words:
const (
	shmMagic   = 0 // "RFHBSHM1": the responder checks it is given the right file
	shmStamp   = 1 // liveness stamp, CLOCK_MONOTONIC ns
	shmGrace   = 2 // ns
	shmCount   = 3 // slots in use; the responder publishes a slot's key before
	shmCap     = 4 // slots in the file
	shmDropped = 5 // records not kept: every slot taken
	shmHeader  = 8 // words before the first slot
	// slot: key (node | link<<32), then Record's six words, one spare.
	slotWords = 8
)

const shmMagicValue = 0x3148_4d53_4248_4652 // "RFHBSHM1" little endian

// shm is the mapped file.
type shm struct {
	fd    int
	mem   []byte
	slots int // capacity, kept locally: the other side cannot change it
}

// newShm creates and maps the memfd with room for slots records.
func newShm(slots int) (*shm, error) {
	fd, err := unix.MemfdCreate("ringfence-heartbeat", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	size := 8 * (shmHeader + slots*slotWords)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ftruncate memfd: %w", err)
	}
	s, err := mapShm(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.slots = slots
	s.word(shmCap).Store(uint64(slots))
	s.word(shmMagic).Store(shmMagicValue)
	return s, nil
}

// mapShm maps an existing file (the responder's side) and checks its
// size against the capacity it claims.
func mapShm(fd int) (*shm, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat memfd: %w", err)
	}
	if st.Size < 8*shmHeader || st.Size%8 != 0 {
		return nil, fmt.Errorf("heartbeat: shared memory of %d bytes", st.Size)
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap memfd: %w", err)
	}
	return &shm{fd: fd, mem: mem}, nil
}

// check validates a file the responder was handed.
func (s *shm) check() error {
	if s.word(shmMagic).Load() != shmMagicValue {
		return errors.New("heartbeat: shared memory has no responder header")
	}
	c := s.word(shmCap).Load()
	if c > uint64(len(s.mem)) || uint64(len(s.mem)) < 8*(shmHeader+c*slotWords) {
		return fmt.Errorf("heartbeat: shared memory too small for %d slots", c)
	}
	s.slots = int(c)
	return nil
}

// word returns the i-th 64-bit word; mmap returns page-aligned memory,
// so every word is 8-byte aligned as the atomics need.
func (s *shm) word(i int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&s.mem[8*i]))
}

func (s *shm) slot(i int) int { return shmHeader + i*slotWords }

func packKey(k Key) uint64 { return uint64(k.Node) | uint64(k.Link)<<32 }

// read returns slot i's key and record.
func (s *shm) read(i int) (Key, Record) {
	w := s.slot(i)
	kv := s.word(w).Load()
	return Key{Node: uint32(kv), Link: uint32(kv >> 32)}, Record{
		LastProbe: s.word(w + 1).Load(), LastAnswer: s.word(w + 2).Load(), RTT: s.word(w + 3).Load(),
		Probes: s.word(w + 4).Load(), Answers: s.word(w + 5).Load(), Replied: s.word(w + 6).Load(),
	}
}

// count is the number of published slots, bounded by the capacity (the
// responder cannot make the daemon read past the file).
func (s *shm) count() int {
	return int(min(s.word(shmCount).Load(), uint64(s.slots)))
}

func (s *shm) close() {
	if s.mem != nil {
		unix.Munmap(s.mem)
		s.mem = nil
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
	}
}

// write publishes slot i's record (the responder's side; it is the only
// writer of records).
func (s *shm) write(i int, r *Record) {
	w := s.slot(i)
	s.word(w + 1).Store(r.LastProbe)
	s.word(w + 2).Store(r.LastAnswer)
	s.word(w + 3).Store(r.RTT)
	s.word(w + 4).Store(r.Probes)
	s.word(w + 5).Store(r.Answers)
	s.word(w + 6).Store(r.Replied)
}

// add takes the next free slot for k, or returns false when all are
// taken. The key is written before the count that makes it visible.
func (s *shm) add(k Key) (int, bool) {
	i := int(s.word(shmCount).Load())
	if i >= s.slots {
		s.word(shmDropped).Add(1)
		return 0, false
	}
	s.word(s.slot(i)).Store(packKey(k))
	s.word(shmCount).Store(uint64(i + 1))
	return i, true
}
