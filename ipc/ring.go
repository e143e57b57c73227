package ipc

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout of libqb's struct qb_ringbuffer_shared_s (lib/ringbuffer_int.h),
// the header file every ring buffer shares between the two processes.
const (
	offWritePt   = 0
	offReadPt    = 4
	offWordSize  = 8
	offHdrPath   = 12
	offDataPath  = 12 + pathMax
	offRefCount  = 12 + 2*pathMax  // 8204
	offSem       = offRefCount + 4 // 8208, 8-aligned
	offUserData  = offSem + 32     // 8240: flow-control word on the request ring
	sharedHdrLen = offUserData + 8 // sizeof(struct) = 8248 (aligned 8)
	// HeaderFileSize is the size libqb's server gives every "-header" file
	// (the struct plus a 4-byte user area).
	HeaderFileSize = sharedHdrLen + 4

	chunkMagic      = 0xA1A1A1A1 // committed
	chunkMagicAlloc = 0xA110CED0 // being written
	chunkMagicDead  = 0xD0D0D0D0 // reclaimed
	chunkHdrWords   = 2
	// chunkMargin is what a writer needs on top of the payload: the
	// two-word chunk header plus one word of rounding.
	chunkMargin = 12
)

// Errors a ring operation can return besides errno values.
var (
	ErrRingCorrupt = errors.New("ipc: ring buffer header or chunk is corrupt")
	ErrRingFull    = syscall.EAGAIN
)

// DataFileSize is the size of a ring's data file for a given maximum
// message size: room for one maximal chunk plus one spare byte, rounded up
// to whole pages.
func DataFileSize(maxMsg uint32) int {
	page := os.Getpagesize()
	n := int(maxMsg) + chunkMargin + 1
	return (n + page - 1) / page * page
}

// Ring is one libqb shared-memory ring buffer (one direction of a
// connection), mapped into this process. The data file is mapped twice back
// to back so that a chunk that wraps around the end is still contiguous.
type Ring struct {
	hdr      []byte
	data     unsafe.Pointer // 2*size bytes: the data file mapped twice
	size     uintptr        // bytes in one copy of the data file
	words    uint32
	sem      sem
	hdrPath  string
	dataPath string
}

// CreateRing creates the header and data files base+"-header" and
// base+"-data" (server side), owned by uid/gid with mode 0600.
func CreateRing(base string, maxMsg uint32, uid, gid int) (r *Ring, err error) {
	size := DataFileSize(maxMsg)
	hdrPath, dataPath := base+"-header", base+"-data"
	if len(hdrPath) >= pathMax || len(dataPath) >= pathMax {
		return nil, syscall.ENAMETOOLONG
	}
	r = &Ring{hdrPath: hdrPath, dataPath: dataPath, size: uintptr(size), words: uint32(size / 4)}
	defer func() {
		if err != nil {
			r.unmap()
			os.Remove(hdrPath)
			os.Remove(dataPath)
		}
	}()
	hfd, err := createShmFile(hdrPath, HeaderFileSize, uid, gid)
	if err != nil {
		return nil, err
	}
	r.hdr, err = unix.Mmap(hfd, 0, HeaderFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	unix.Close(hfd)
	if err != nil {
		return nil, fmt.Errorf("ipc: mmap %s: %w", hdrPath, err)
	}
	r.sem = newSem(unsafe.Pointer(&r.hdr[offSem]))
	r.u32(offWordSize).Store(r.words)
	r.u32(offWritePt).Store(0)
	r.u32(offReadPt).Store(0)
	putCString(r.hdr[offHdrPath:offHdrPath+pathMax], hdrPath)
	putCString(r.hdr[offDataPath:offDataPath+pathMax], dataPath)
	r.sem.init()
	clear(r.hdr[offUserData:])

	dfd, err := createShmFile(dataPath, size, uid, gid)
	if err != nil {
		return nil, err
	}
	r.data, err = mapTwice(dfd, r.size)
	unix.Close(dfd)
	if err != nil {
		return nil, fmt.Errorf("ipc: mmap %s: %w", dataPath, err)
	}
	// No clearing: the file is new (O_EXCL) and ftruncate/fallocate give
	// zeros; touching every page here would fault in up to three maximal
	// rings per connection for nothing.
	r.u32(offRefCount).Store(1)
	return r, nil
}

// OpenRing maps an existing ring created by a server (client side) and
// takes the client's reference (ref_count 1 → 2), which the peer's flow
// control check requires.
func OpenRing(base string) (r *Ring, err error) {
	r = &Ring{hdrPath: base + "-header"}
	defer func() {
		if err != nil {
			r.unmap()
		}
	}()
	hfd, err := unix.Open(r.hdrPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ipc: open %s: %w", r.hdrPath, err)
	}
	var st unix.Stat_t
	if err = unix.Fstat(hfd, &st); err == nil && st.Size < sharedHdrLen {
		err = fmt.Errorf("%w: header file of %d bytes", ErrRingCorrupt, st.Size)
	}
	if err == nil {
		r.hdr, err = unix.Mmap(hfd, 0, sharedHdrLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	unix.Close(hfd)
	if err != nil {
		return nil, err
	}
	r.sem = newSem(unsafe.Pointer(&r.hdr[offSem]))
	r.words = r.u32(offWordSize).Load()
	r.size = uintptr(r.words) * 4
	page := uintptr(os.Getpagesize())
	if r.words < 4 || r.size%page != 0 || r.words > 1<<28 {
		return nil, fmt.Errorf("%w: word_size %d", ErrRingCorrupt, r.words)
	}
	r.dataPath = cString(r.hdr[offDataPath : offDataPath+pathMax])
	dfd, err := unix.Open(r.dataPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ipc: open %s: %w", r.dataPath, err)
	}
	if err = unix.Fstat(dfd, &st); err == nil && uintptr(st.Size) < r.size {
		err = fmt.Errorf("%w: data file of %d bytes, want %d", ErrRingCorrupt, st.Size, r.size)
	}
	if err == nil {
		r.data, err = mapTwice(dfd, r.size)
	}
	unix.Close(dfd)
	if err != nil {
		return nil, err
	}
	r.u32(offRefCount).Add(1)
	return r, nil
}

func createShmFile(path string, size, uid, gid int) (int, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0600)
	if err != nil {
		return -1, fmt.Errorf("ipc: create %s: %w", path, err)
	}
	if err = unix.Ftruncate(fd, int64(size)); err == nil {
		// Reserve the memory now so that a full /dev/shm fails the
		// connection instead of raising SIGBUS later.
		if ferr := unix.Fallocate(fd, 0, 0, int64(size)); ferr != nil && ferr != unix.EOPNOTSUPP {
			err = ferr
		}
	}
	if err == nil && uid >= 0 {
		if cerr := unix.Fchown(fd, uid, gid); cerr != nil && cerr != unix.EPERM {
			err = cerr
		}
	}
	if err == nil {
		err = unix.Fchmod(fd, 0600)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ipc: prepare %s: %w", path, err)
	}
	return fd, nil
}

// mapTwice maps fd's first size bytes at two adjacent addresses.
func mapTwice(fd int, size uintptr) (unsafe.Pointer, error) {
	base, err := unix.MmapPtr(-1, 0, nil, 2*size, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	for i := uintptr(0); i < 2; i++ {
		at := unsafe.Add(base, i*size)
		p, err := unix.MmapPtr(fd, 0, at, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
		if err != nil || p != at {
			unix.MunmapPtr(base, 2*size)
			if err == nil {
				err = syscall.EFAULT
			}
			return nil, err
		}
	}
	return base, nil
}

func (r *Ring) u32(off int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&r.hdr[off]))
}

func (r *Ring) word(i uint32) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(r.data, uintptr(i%r.words)*4))
}

// bytesAt returns n bytes starting at word i; n may run into the mirror.
func (r *Ring) bytesAt(i uint32, n uint32) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(r.data, uintptr(i%r.words)*4)), n)
}

// MaxPayload is the largest chunk this ring can ever hold.
func (r *Ring) MaxPayload() int { return int(r.size) - chunkMargin - 1 }

// FlowControl reads the int32 user word (meaningful on request rings).
func (r *Ring) FlowControl() int32 { return int32(r.u32(offUserData).Load()) }

// SetFlowControl sets the user word that clients consult before sending.
func (r *Ring) SetFlowControl(v int32) { r.u32(offUserData).Store(uint32(v)) }

// RefCount reads the shared reference count.
func (r *Ring) RefCount() int32 { return int32(r.u32(offRefCount).Load()) }

// Pending is the semaphore value: committed chunks not yet consumed.
func (r *Ring) Pending() uint32 { return r.sem.value() }

// Paths returns the header and data file names.
func (r *Ring) Paths() (hdr, data string) { return r.hdrPath, r.dataPath }

func (r *Ring) step(p, n uint32) uint32 {
	p += chunkHdrWords + n/4
	if n%4 != 0 {
		p++
	}
	if p >= r.words {
		p %= r.words
	}
	return p
}

func (r *Ring) freeBytes(w, rd uint32) int {
	var words uint32
	switch {
	case w > rd:
		words = rd - w + r.words - 1
	case w < rd:
		words = rd - w - 1
	default:
		if r.sem.value() > 0 {
			words = 0
		} else {
			words = r.words
		}
	}
	return int(words) * 4
}

// Write appends one chunk made of the concatenated parts and posts the
// ring's semaphore. A full ring gives ErrRingFull (EAGAIN).
func (r *Ring) Write(parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	if total > r.MaxPayload() {
		return syscall.EMSGSIZE
	}
	w, rd := r.u32(offWritePt).Load(), r.u32(offReadPt).Load()
	if w >= r.words || rd >= r.words {
		return ErrRingCorrupt
	}
	if r.freeBytes(w, rd) < total+chunkMargin {
		return ErrRingFull
	}
	r.word(w).Store(0)
	r.word(w + 1).Store(chunkMagicAlloc)
	dst := r.bytesAt(w+chunkHdrWords, uint32(total))
	off := 0
	for _, p := range parts {
		off += copy(dst[off:], p)
	}
	r.word(w).Store(uint32(total))
	r.u32(offWritePt).Store(r.step(w, uint32(total)))
	r.word(w + 1).Store(chunkMagic)
	return r.sem.post()
}

// Read copies out the chunk at the read pointer and reclaims it. The
// caller must already hold one unit of the semaphore (TryTake or Take).
// Every value read from shared memory is checked before use: the peer may
// be hostile or buggy and may change the memory while we read it.
func (r *Ring) Read(limit int) ([]byte, error) {
	rd, w := r.u32(offReadPt).Load(), r.u32(offWritePt).Load()
	if rd >= r.words || w >= r.words {
		return nil, ErrRingCorrupt
	}
	if r.word(rd+1).Load() != chunkMagic {
		return nil, fmt.Errorf("%w: no committed chunk at word %d", ErrRingCorrupt, rd)
	}
	n := r.word(rd).Load()
	if int64(n) > int64(r.MaxPayload()) {
		return nil, fmt.Errorf("%w: chunk length %d exceeds ring", ErrRingCorrupt, n)
	}
	used := w - rd
	if w <= rd {
		used = w + r.words - rd
	}
	next := rd + chunkHdrWords + (n+3)/4
	if next-rd > used {
		return nil, fmt.Errorf("%w: chunk of %d bytes runs past the write pointer", ErrRingCorrupt, n)
	}
	if limit >= 0 && int(n) > limit {
		r.sem.post() // leave it for a larger buffer, as libqb does
		return nil, syscall.ENOBUFS
	}
	out := make([]byte, n)
	copy(out, r.bytesAt(rd+chunkHdrWords, n))
	r.word(rd).Store(0)
	r.word(rd + 1).Store(chunkMagicDead)
	r.u32(offReadPt).Store(r.step(rd, n))
	return out, nil
}

// TryTake takes one unit of the semaphore without blocking.
func (r *Ring) TryTake() bool { return r.sem.tryWait() }

func (r *Ring) unmap() {
	if r.data != nil {
		unix.MunmapPtr(r.data, 2*r.size)
		r.data = nil
	}
	if r.hdr != nil {
		unix.Munmap(r.hdr)
		r.hdr = nil
	}
}

// Close unmaps the ring; the creator also removes its two files.
func (r *Ring) Close(unlink bool) {
	if r.hdr != nil && !unlink {
		guard(func() error { r.u32(offRefCount).Add(^uint32(0)); return nil })
	}
	r.unmap()
	if unlink {
		os.Remove(r.hdrPath)
		os.Remove(r.dataPath)
	}
}

// Take waits up to timeout for one unit of the semaphore (client side).
func (r *Ring) Take(timeout time.Duration) bool { return r.sem.wait(timeout) }
