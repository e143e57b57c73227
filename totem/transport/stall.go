package transport

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Bounding how long a send waits for room in its socket's send buffer.
//
// A datagram to a member whose link-layer address the kernel is resolving
// waits in that neighbour's queue (up to unres_qlen_bytes) and stays
// charged to the sending socket until it leaves or resolution fails (3 s
// of unanswered ARP probes by default). On a node whose link is down
// every peer is such a member: the queues soon hold more than the send
// buffer, and a send that waited for room held the event loop until a
// resolution failed, over and over (2.8 s per IPC query on an isolated
// node under CPG load). Corosync's non-blocking sockets drop there at
// once. We wait a little, since on a busy NIC room comes back within
// milliseconds as transmissions complete, then drop what is left of the
// send: totem recovers lost datagrams by retransmission, and a dead link
// would lose them anyway. Once a wait has run out the socket counts as
// clogged and the next full buffer drops at once, until a send goes
// through whole, so a node with a dead link does not pay the wait on
// every token visit.

// DefaultSendStall is how long a send waits for room in a full send
// buffer before dropping what it has left: well under the token
// retransmit timeout (238 ms with token 1000), and ample for a NIC
// to complete transmissions.
const DefaultSendStall = 10 * time.Millisecond

// stallLogEvery limits the warning to one line per interval while drops
// go on.
const stallLogEvery = 30 * time.Second

// sendStall is one socket's wait bound. Its fields other than the
// counters are used under the lock the socket's sends are serialised by.
type sendStall struct {
	conn    *net.UDPConn // for the write deadline
	bound   time.Duration
	what    string // whose datagrams, for the log: "peers", "this node"
	clogged bool   // the last wait ran out and no send has gone through whole since
	armed   bool   // a write deadline is set for the send under way
	lastLog time.Time
	pending uint64 // drops not yet logged
	log     logrus.FieldLogger
	dropped *atomic.Uint64 // the transport's counter
}

// full is called on EAGAIN inside the raw write. It reports whether to
// wait for room (the netpoller wakes the write when there is, or the
// deadline ends it); false drops the rest of the send at once.
func (s *sendStall) full() bool {
	if s.clogged || s.bound <= 0 {
		return false
	}
	if !s.armed {
		// The deadline is set only now, so a send that finds room pays
		// nothing for the bound.
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.bound))
		s.armed = true
	}
	return true
}

// done ends a send: it clears a deadline it set and says whether err is
// the deadline running out (the rest of the send is to be dropped).
func (s *sendStall) done(err error) (timedOut bool) {
	if s.armed {
		_ = s.conn.SetWriteDeadline(time.Time{})
		s.armed = false
	}
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// sent records a send that handed every datagram to the kernel.
func (s *sendStall) sent() { s.clogged = false }

// drop counts n datagrams dropped for want of room and warns, at most
// once per stallLogEvery.
func (s *sendStall) drop(n uint64) {
	s.clogged = true
	s.dropped.Add(n)
	s.pending += n
	now := time.Now()
	if !s.lastLog.IsZero() && now.Sub(s.lastLog) < stallLogEvery {
		return
	}
	s.log.WithField("dropped", s.pending).Warnf("send buffer full (waited up to %v): dropped %d datagrams to %s; a member's link may be down, totem retransmits",
		s.bound, s.pending, s.what)
	s.lastLog, s.pending = now, 0
}
