package transport

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxSendmmsg is the most datagrams one sendmmsg takes (UIO_MAXIOV).
const maxSendmmsg = 1024

// mmsgSend is a reusable sendmmsg list: the headers, their iovecs and the
// destination addresses of one send, grown as needed and kept for the
// next (x/net's WriteBatch builds all of them again on every call and
// allocates a sockaddr per datagram).
type mmsgSend struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

// rawSockaddr is a destination in the form the kernel takes, prepared
// once per member set.
type rawSockaddr struct {
	sa  unix.RawSockaddrInet6 // room for either family
	len uint32
}

// toRaw converts a destination for a socket of the given family (v6: an
// IPv4 destination goes as a mapped address).
func toRaw(d netip.AddrPort, v6 bool) rawSockaddr {
	var r rawSockaddr
	port := (*[2]byte)(unsafe.Pointer(&r.sa.Port))
	binary.BigEndian.PutUint16(port[:], d.Port())
	if !v6 {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sa))
		s4.Family = unix.AF_INET
		s4.Addr = d.Addr().Unmap().As4()
		r.len = unix.SizeofSockaddrInet4
		return r
	}
	r.sa.Family = unix.AF_INET6
	r.sa.Addr = d.Addr().As16()
	r.len = unix.SizeofSockaddrInet6
	return r
}

// add queues b for to. b must stay untouched until send returns.
func (m *mmsgSend) add(to *rawSockaddr, b []byte) {
	var iov unix.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
	}
	m.iovs = append(m.iovs, iov)
	m.names = append(m.names, to.sa)
	var h unix.Mmsghdr
	h.Hdr.Namelen = to.len
	m.hdrs = append(m.hdrs, h)
}

// reset forgets the queued datagrams, and the pointers to the callers'
// buffers with them.
func (m *mmsgSend) reset() {
	clear(m.iovs)
	clear(m.hdrs)
	m.iovs, m.names, m.hdrs = m.iovs[:0], m.names[:0], m.hdrs[:0]
}

// send hands every queued datagram to the kernel, in order, with as few
// sendmmsg calls as it takes. The calls are raw, non-blocking system
// calls inside one RawConn.Write: they do not go through the scheduler's
// entersyscall, and only a full send buffer (EAGAIN) waits, in the
// netpoller, as a blocking send would. A datagram the kernel refuses is
// counted and skipped; the first such error is returned after the rest
// were sent (perCall datagrams a call at most), since totem recovers from a lost datagram by retransmission.
func (m *mmsgSend) send(rc syscall.RawConn, c *counters, perCall int) error {
	for i := range m.hdrs {
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.SetIovlen(1)
		m.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
	}
	var first error
	off := 0
	err := rc.Write(func(fd uintptr) bool {
		for off < len(m.hdrs) {
			chunk := m.hdrs[off:min(len(m.hdrs), off+perCall)]
			r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
			n := int(r)
			switch {
			case errno == unix.EINTR:
				continue
			case errno == unix.EAGAIN:
				return false // wait until the socket is writable
			case errno != 0 || n <= 0:
				// The first datagram of the chunk was refused.
				c.sendErrors.Add(1)
				if first == nil {
					if errno == 0 {
						errno = unix.EIO
					}
					first = errno
				}
				n = 1
			default:
				for i := range n {
					c.sent(int(m.iovs[off+i].Len))
				}
			}
			off += n
		}
		return true
	})
	if err != nil {
		// The socket closed: what was left is not sent.
		c.sendErrors.Add(uint64(len(m.hdrs) - off))
		if first == nil {
			first = err
		}
	}
	return first
}
