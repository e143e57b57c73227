package heartbeat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// The userspace fallback runs in a responder process of its own, so that
// it behaves like the XDP program: a daemon that is stopped or stalls
// keeps being answered for while its stamp is younger than the grace,
// and stops being answered for once the stamp is older (a hung daemon)
// or at once when the daemon dies (the process is killed with it, as the
// program is detached with its last link).
//
// The daemon re-executes its own binary (/proc/self/exe) with
// responderEnv set; ResponderMain, the first call of main, turns that
// process into the responder. The environment variable holds
// "<nodeid>/<link>,<link>..." and the descriptors are:
//
//	3    the shared memory (shm.go): stamp and grace in, records out
//	4    a socketpair to the daemon: the responder writes one byte once
//	     it runs, and exits when it reads EOF (the daemon is gone)
//	5... the heartbeat UDP socket of each link, in the order of the links
//
// The responder reads every datagram on the sockets, probes and answers
// alike, as the XDP program consumes both. The daemon keeps its own
// descriptor of each socket and sends the probes from it: what to probe
// and when is the engine's business (Tick, the circle, wide mode, no
// probes from a stale daemon) and stays in one place, the responder only
// plays the kernel's part.
const responderEnv = "RINGFENCE_HB_RESPONDER"

const (
	fdShm      = 3
	fdLifeline = 4
	fdSockets  = 5
)

// hooked is set when this binary called ResponderMain at start: only
// then can the engine re-execute it as a responder (a binary without the
// hook, e.g. another package's test binary, would run its own main).
var hooked atomic.Bool

// ResponderMain must be the first call of the daemon's main (and of
// TestMain in test binaries that want the responder process). In a
// responder process it runs the responder and never returns; anywhere
// else it records that the binary can be re-executed as one, and
// returns.
func ResponderMain() {
	spec, ok := os.LookupEnv(responderEnv)
	if !ok {
		hooked.Store(true)
		return
	}
	err := runResponder(spec)
	fmt.Fprintf(os.Stderr, "ringfence heartbeat responder: %v\n", err)
	os.Exit(1)
}

// responderSpec encodes the node and links for the environment.
func responderSpec(node uint32, links []uint8) string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(node), 10))
	for i, l := range links {
		if i == 0 {
			b.WriteByte('/')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(l)))
	}
	return b.String()
}

// parseResponderSpec decodes responderSpec's output.
func parseResponderSpec(spec string) (uint32, []uint8, error) {
	id, list, ok := strings.Cut(spec, "/")
	node, err := strconv.ParseUint(id, 10, 32)
	if !ok || err != nil || node == 0 {
		return 0, nil, fmt.Errorf("bad %s %q", responderEnv, spec)
	}
	var links []uint8
	for _, f := range strings.Split(list, ",") {
		l, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			return 0, nil, fmt.Errorf("bad %s %q", responderEnv, spec)
		}
		links = append(links, uint8(l))
	}
	return uint32(node), links, nil
}

type responder struct {
	node uint32
	shm  *shm
	mu   sync.Mutex // the links' readers share the table
	recs map[Key]*Record
	slot map[Key]int
}

func runResponder(spec string) error {
	// Only the daemon's end decides: a terminal's ^C or systemd's
	// SIGTERM to the whole group must not silence the daemon before it
	// has left the ring itself.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	life := os.NewFile(fdLifeline, "lifeline")
	go func() {
		var b [1]byte
		for {
			if _, err := life.Read(b[:]); err != nil {
				os.Exit(0) // the daemon is gone: stop answering for it
			}
		}
	}()
	node, links, err := parseResponderSpec(spec)
	if err != nil {
		return err
	}
	s, err := mapShm(fdShm)
	if err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	r := &responder{node: node, shm: s, recs: map[Key]*Record{}, slot: map[Key]int{}}
	r.adopt()
	var conns []*net.UDPConn
	for i := range links {
		f := os.NewFile(uintptr(fdSockets+i), "heartbeat socket")
		pc, err := net.FilePacketConn(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("link %d socket: %w", links[i], err)
		}
		uc, ok := pc.(*net.UDPConn)
		if !ok {
			return fmt.Errorf("link %d: not a UDP socket", links[i])
		}
		conns = append(conns, uc)
	}
	if _, err := life.Write([]byte{1}); err != nil {
		return err
	}
	errs := make(chan error, len(conns))
	for i, c := range conns {
		go func() { errs <- r.serve(c, links[i]) }()
	}
	return <-errs
}

// adopt takes over the records a previous responder left in the memory
// (the daemon restarts a responder that died): the counts go on from
// there, as the engine expects of them, and each key keeps its slot.
func (r *responder) adopt() {
	for i := range r.shm.count() {
		k, rec := r.shm.read(i)
		r.recs[k], r.slot[k] = &rec, i
	}
}

// serve answers one link's probes while the stamp is fresh and records
// every probe and answer, as the XDP program does.
func (r *responder) serve(c *net.UDPConn, link uint8) error {
	buf := make([]byte, 2048)
	out := make([]byte, 0, PacketLen)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue // e.g. a truncated datagram: the next one counts
		}
		p, err := Parse(buf[:n])
		if err != nil || p.To != r.node || p.Link != link {
			continue
		}
		if r.handle(p, Monotonic()) {
			out = p.Answer(r.node, 0).Append(out[:0])
			_, _ = c.WriteToUDPAddrPort(out, from)
		}
	}
}

// handle records p, received at now, and says whether to answer it.
func (r *responder) handle(p Packet, now uint64) bool {
	k := Key{Node: p.From, Link: uint32(p.Link)}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recs[k]
	if rec == nil {
		i, ok := r.shm.add(k)
		if !ok {
			// Table full (more senders than the nodelist allows for):
			// answer by the same rule, unrecorded; the XDP program
			// hands such packets to the daemon's reader, which does.
			return p.Type == TypeProbe && fresh(now, r.shm.word(shmStamp).Load(), r.shm.word(shmGrace).Load())
		}
		rec = &Record{}
		r.recs[k], r.slot[k] = rec, i
	}
	answer := false
	switch p.Type {
	case TypeProbe:
		answer = rec.sawProbe(now, fresh(now, r.shm.word(shmStamp).Load(), r.shm.word(shmGrace).Load()))
	case TypeAnswer:
		rec.sawAnswer(now, p.Stamp)
	}
	r.shm.write(r.slot[k], rec)
	return answer
}
