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

// mmsgSend is a reusable sendmmsg list: the headers, their iovecs, the
// destination addresses and the UDP_SEGMENT control messages of one send,
// grown as needed and kept for the next (x/net's WriteBatch builds all of
// them again on every call and allocates a sockaddr per datagram).
type mmsgSend struct {
	hdrs  []unix.Mmsghdr
	ents  []sendEnt // one per header: what it points at
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte // gsoCmsgSpace bytes per GSO run
}

// sendEnt is where one message's pieces live. Indexes, not pointers:
// the slices grow while the list is built, and the pointers are set just
// before the system call.
type sendEnt struct {
	iov, niov int // iovs[iov:iov+niov]; a GSO run's frames are shared by all its copies
	ctrl      int // offset of its UDP_SEGMENT cmsg in ctrl, or -1
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

func iovOf(b []byte) unix.Iovec {
	var iov unix.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
	}
	return iov
}

// entry queues one message to `to` made of iovs[iov:iov+niov].
func (m *mmsgSend) entry(to *rawSockaddr, iov, niov, ctrl int) {
	m.ents = append(m.ents, sendEnt{iov: iov, niov: niov, ctrl: ctrl})
	m.names = append(m.names, to.sa)
	var h unix.Mmsghdr
	h.Hdr.Namelen = to.len
	m.hdrs = append(m.hdrs, h)
}

// add queues b for to. b must stay untouched until send returns.
func (m *mmsgSend) add(to *rawSockaddr, b []byte) {
	m.iovs = append(m.iovs, iovOf(b))
	m.entry(to, len(m.iovs)-1, 1, -1)
}

// addRun queues one GSO datagram per destination, each carrying all of
// frames (see gsoRun for the shape the kernel needs): the kernel cuts it
// back into one ordinary datagram per frame, in order. The frames are
// not copied; they must stay untouched until send returns.
func (m *mmsgSend) addRun(to []rawSockaddr, frames []Outgoing) {
	if len(to) == 0 {
		return
	}
	iov := len(m.iovs)
	for _, f := range frames {
		m.iovs = append(m.iovs, iovOf(f.Data))
	}
	ctrl := len(m.ctrl)
	m.ctrl = append(m.ctrl, make([]byte, gsoCmsgSpace)...)
	putGSOCmsg(m.ctrl[ctrl:], len(frames[0].Data))
	for i := range to {
		m.entry(&to[i], iov, len(frames), ctrl)
	}
}

// reset forgets the queued datagrams, and the pointers to the callers'
// buffers with them.
func (m *mmsgSend) reset() {
	clear(m.iovs)
	clear(m.hdrs)
	m.iovs, m.names, m.hdrs, m.ents, m.ctrl = m.iovs[:0], m.names[:0], m.hdrs[:0], m.ents[:0], m.ctrl[:0]
}

// point sets the headers' pointers from their entries.
func (m *mmsgSend) point(from int) {
	for i := from; i < len(m.hdrs); i++ {
		e, h := &m.ents[i], &m.hdrs[i].Hdr
		h.Iov = &m.iovs[e.iov]
		h.SetIovlen(e.niov)
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Control, h.Controllen = nil, 0
		if e.ctrl >= 0 {
			h.Control = &m.ctrl[e.ctrl]
			h.SetControllen(gsoCmsgSpace)
		}
	}
}

// ungso turns every GSO message from index from on into one plain
// message per frame, in the same order, after the kernel refused GSO.
func (m *mmsgSend) ungso(from int) {
	ents := append([]sendEnt(nil), m.ents[from:]...)
	names := append([]unix.RawSockaddrInet6(nil), m.names[from:]...)
	nlen := make([]uint32, len(ents))
	for i := range ents {
		nlen[i] = m.hdrs[from+i].Hdr.Namelen
	}
	clear(m.hdrs[from:])
	m.hdrs, m.ents, m.names = m.hdrs[:from], m.ents[:from], m.names[:from]
	for i, e := range ents {
		to := rawSockaddr{sa: names[i], len: nlen[i]}
		for j := range e.niov {
			m.entry(&to, e.iov+j, 1, -1)
		}
	}
	m.point(from)
}

// send hands every queued datagram to the kernel, in order, with as few
// sendmmsg calls as it takes. The calls are raw, non-blocking system
// calls inside one RawConn.Write: they do not go through the scheduler's
// entersyscall. A full send buffer (EAGAIN) waits in the netpoller for at
// most st's bound (stall.go), after which the datagrams left are dropped
// and counted. A datagram the kernel refuses is counted and skipped; the
// first such error is returned after the rest were sent (perCall
// messages a call at most), since totem recovers from a lost datagram by
// retransmission. A GSO message the kernel refuses as such (gsoRefusal)
// is sent again as plain datagrams, with every GSO message after it, and
// g turns GSO off for the socket.
func (m *mmsgSend) send(rc syscall.RawConn, st *sendStall, c *counters, perCall int, g *gsoState) error {
	m.point(0)
	if len(m.ctrl) > 0 && !g.enabled() {
		// GSO went off after this list was built (the kernel refused
		// it on the other socket of the same send): do not ask again.
		m.ungso(0)
	}
	var first error
	off := 0
	gaveUp := false
	err := rc.Write(func(fd uintptr) bool {
		for off < len(m.hdrs) {
			chunk := m.hdrs[off:min(len(m.hdrs), off+perCall)]
			r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
			n := int(r)
			switch {
			case errno == unix.EINTR:
				continue
			case errno == unix.EAGAIN:
				if st.full() {
					return false // wait until the socket is writable
				}
				gaveUp = true
				return true
			case errno != 0 && m.ents[off].ctrl >= 0 && gsoRefusal(errno):
				g.refused(c, errno)
				m.ungso(off)
				continue
			case errno != 0 || n <= 0:
				// The first message of the chunk was refused.
				c.sendErrors.Add(uint64(m.ents[off].niov))
				if first == nil {
					if errno == 0 {
						errno = unix.EIO
					}
					first = errno
				}
				n = 1
			default:
				for i := range n {
					m.sent(c, off+i)
				}
			}
			off += n
		}
		return true
	})
	if st.done(err) {
		gaveUp, err = true, nil
	}
	switch {
	case gaveUp:
		// The send buffer stayed full: what is left is dropped, as a
		// dead link would lose it.
		st.drop(m.frames(off))
		if first == nil {
			first = ErrSendBufferFull
		}
	case err != nil:
		// The socket closed: what was left is not sent.
		c.sendErrors.Add(m.frames(off))
		if first == nil {
			first = err
		}
	default:
		st.sent()
	}
	return first
}

// sendIfAny is send when anything is queued.
func (m *mmsgSend) sendIfAny(rc syscall.RawConn, st *sendStall, c *counters, perCall int, g *gsoState) error {
	if len(m.hdrs) == 0 {
		return nil
	}
	return m.send(rc, st, c, perCall, g)
}

// frames counts the datagrams of the messages from index from on (every
// frame of a GSO message is one).
func (m *mmsgSend) frames(from int) uint64 {
	var n uint64
	for _, e := range m.ents[from:] {
		n += uint64(e.niov)
	}
	return n
}

// sent counts message i: every frame of a GSO message is a datagram.
func (m *mmsgSend) sent(c *counters, i int) {
	e := &m.ents[i]
	for _, iov := range m.iovs[e.iov : e.iov+e.niov] {
		c.sent(int(iov.Len))
	}
	if e.ctrl >= 0 {
		c.txGSO.Add(1)
	}
}
