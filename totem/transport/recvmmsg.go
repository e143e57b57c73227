package transport

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatch is the reader's recvmmsg state: headers pointing at the read
// buffers and at room for the source addresses, built once and reused for
// every call (x/net's ReadBatch rebuilds them and allocates a net.UDPAddr
// per datagram).
type mmsgBatch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  [][]byte
	ctrl  []byte // groCmsgSpace per datagram, for the UDP_GRO segment size
}

func newMmsgBatch(n, size int) *mmsgBatch {
	b := &mmsgBatch{
		hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		bufs:  make([][]byte, n),
		ctrl:  make([]byte, n*groCmsgSpace),
	}
	for i := range n {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Control = &b.ctrl[i*groCmsgSpace]
	}
	return b
}

// recv is one non-blocking recvmmsg on fd. It is a raw system call: it
// never blocks, so the scheduler need not know about it (entersyscall
// would also wake the runtime's monitor thread after every idle spell).
func (b *mmsgBatch) recv(fd uintptr) (int, unix.Errno) {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.hdrs[i].Hdr.Flags = 0
		b.hdrs[i].Hdr.SetControllen(groCmsgSpace)
		b.hdrs[i].Len = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// gro is the UDP_GRO segment size of datagram i, 0 if it is single.
func (b *mmsgBatch) gro(i int) int {
	off := i * groCmsgSpace
	return groSize(b.ctrl[off : off+min(int(b.hdrs[i].Hdr.Controllen), groCmsgSpace)])
}

// from is the source address of datagram i.
func (b *mmsgBatch) from(i int) netip.AddrPort {
	sa := &b.names[i]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
	}
	return netip.AddrPort{}
}

// runMmsg reads with recvmmsg inside one RawConn.Read that lasts until
// the socket closes. A call that returns fewer datagrams than the batch
// holds found the queue empty, so the reader goes straight back to the
// netpoller instead of asking once more only to hear EAGAIN: the poller
// is edge-triggered, and anything that arrived since that call raised an
// edge of its own. That saves a system call per wake-up.
func (r *reader) runMmsg() {
	rc, err := r.sock.conn.SyscallConn()
	if err != nil {
		return
	}
	b := newMmsgBatch(r.batch, r.bufSize)
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, errno := b.recv(fd)
			switch errno {
			case 0:
			case unix.EINTR:
				continue
			default:
				// EAGAIN: wait for the next datagram. Nothing else a
				// datagram socket reports here is fatal (a queued ICMP
				// error); the wait keeps it from spinning.
				return false
			}
			at := time.Now()
			for i := 0; i < n; i++ {
				h := &b.hdrs[i]
				r.accept(b.from(i), at, int(h.Len), int(h.Hdr.Flags), b.bufs[i], b.gro(i))
			}
			r.flush()
			if n < len(b.hdrs) {
				return false
			}
		}
	})
}
