// Command totemdump prints the Totem SRP messages in a packet capture, one
// line each, as Corosync 3.x puts them on the udp and udpu transports, then
// a summary with counts per message type and per decode error.
//
// Wireshark's corosync dissectors only know the Corosync 1.x/2.x formats;
// this is the tool to read a Corosync 3 (or Ringfence) ring with.
//
//	totemdump [-port 5405] [-q] FILE.pcap
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/pg"
	"github.com/ringfence/ringfence/totem/wire"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole command, apart from the process exit, so tests can
// drive the flags.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("totemdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 5405, "totem port (the mcastport); datagrams sent to it are decoded\n(udp sends from port-1 to it, udpu from ephemeral ports and from it)")
	quiet := fs.Bool("q", false, "print only the summary")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: totemdump [-port N] [-q] FILE.pcap\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *port <= 0 || *port > 65535 {
		fs.Usage()
		return 2
	}
	out := stdout
	if *quiet {
		out = io.Discard
	}
	sum, err := dumpFile(fs.Arg(0), uint16(*port), out)
	if err != nil {
		fmt.Fprintf(stderr, "totemdump: %v\n", err)
		return 1
	}
	sum.print(stdout)
	return 0
}

// summary counts what the dump saw.
type summary struct {
	packets int
	types   map[string]int
	errors  map[string]int
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "summary: %d totem datagrams", s.packets)
	for _, k := range sortedKeys(s.types) {
		fmt.Fprintf(w, " %s=%d", k, s.types[k])
	}
	nerr := 0
	for _, n := range s.errors {
		nerr += n
	}
	fmt.Fprintf(w, "; errors=%d", nerr)
	for _, k := range sortedKeys(s.errors) {
		fmt.Fprintf(w, " %s=%d", k, s.errors[k])
	}
	fmt.Fprintln(w)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dumpFile decodes every datagram sent to port in a pcap file.
func dumpFile(path string, port uint16, w io.Writer) (*summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := newDumper(w)
	defrag := ip4defrag.NewIPv4Defragmenter()
	var start time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d.sum, fmt.Errorf("%s: %w", path, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		src := "?"
		if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			// Encapsulated recovery mcasts can exceed the MTU and arrive
			// as IP fragments; decode the datagram once it is whole.
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				whole, err := defrag.DefragIPv4(ip)
				if err != nil {
					d.sum.errors["ip_fragment"]++
					continue
				}
				if whole == nil {
					continue
				}
				ip = whole
				pkt = gopacket.NewPacket(ip.Payload, ip.NextLayerType(), gopacket.Default)
			}
			src = ip.SrcIP.String()
		} else if ip6, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			src = "[" + ip6.SrcIP.String() + "]"
		}
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || uint16(udp.DstPort) != port {
			continue
		}
		if start.IsZero() {
			start = ci.Timestamp
		}
		d.datagram(ci.Timestamp.Sub(start), fmt.Sprintf("%s:%d", src, udp.SrcPort), udp.Payload)
	}
	return d.sum, nil
}

// dumper formats datagrams and keeps per-sender totempg reassembly so that
// fragmented service messages are shown once complete.
type dumper struct {
	w   io.Writer
	sum *summary
	asm *pg.Assembler
	// seen holds the (ring, seq) of every mcast already shown in full.
	// Over udpu a sender unicasts each mcast to every member, and a
	// capture on a bridge sees every copy; retransmissions repeat too.
	// Reassembly must see each message once.
	seen map[mcastKey]bool
	// syncs follows the post-membership sync of each ring, because the
	// reassembly phase depends on it (see phaseFor).
	syncs map[wire.RingID]*ringSync
	// formed holds the rings whose commit token the capture shows.
	formed map[wire.RingID]bool
}

// ringSync is what the dump has seen of one ring's sync protocol: who
// announced services, and how many barriers each member has sent.
type ringSync struct {
	services int
	builders map[uint32]bool
	barriers map[uint32]int
	done     bool
}

type mcastKey struct {
	ring wire.RingID
	seq  uint32
}

func newDumper(w io.Writer) *dumper {
	a := pg.NewAssembler(0)
	a.SetPhase(pg.PhaseRegular)
	return &dumper{w: w, sum: &summary{types: map[string]int{}, errors: map[string]int{}}, asm: a,
		seen: map[mcastKey]bool{}, syncs: map[wire.RingID]*ringSync{}, formed: map[wire.RingID]bool{}}
}

func (d *dumper) datagram(at time.Duration, src string, b []byte) {
	d.sum.packets++
	m, err := wire.Decode(b)
	if err != nil {
		d.sum.errors[errorKind(err)]++
		fmt.Fprintf(d.w, "%10.6f %-21s ERROR %v (%d bytes)\n", at.Seconds(), src, err, len(b))
		return
	}
	d.sum.types[m.Hdr().Type.String()]++
	fmt.Fprintf(d.w, "%10.6f %-21s %s\n", at.Seconds(), src, d.describe(m))
}

func errorKind(err error) string {
	for _, k := range []error{wire.ErrShort, wire.ErrBadMagic, wire.ErrBadVersion, wire.ErrBadType, wire.ErrBadCount, wire.ErrLength} {
		if errors.Is(err, k) {
			return strings.ReplaceAll(k.Error(), " ", "_")
		}
	}
	return "other"
}

func (d *dumper) describe(m wire.Message) string {
	h := m.Hdr()
	switch v := m.(type) {
	case *wire.OrfToken:
		return fmt.Sprintf("orf_token ring=%s seq=%d token_seq=%d aru=%d aru_addr=%d fcc=%d backlog=%d retrans_flg=%d rtr=%d%s",
			v.RingID, v.Seq, v.TokenSeq, v.Aru, v.AruAddr, v.FCC, v.Backlog, v.RetransFlg, len(v.RtrList), rtrList(v))
	case *wire.Mcast:
		return d.describeMcast(v)
	case *wire.MergeDetect:
		return fmt.Sprintf("merge_detect ring=%s from=%d", v.RingID, v.SystemFrom)
	case *wire.Join:
		kind := "join"
		if h.NodeID == wire.LeaveNodeID {
			kind = "join(leave)"
		}
		return fmt.Sprintf("%s from=%d ring_seq=%x proc=%s failed=%s", kind, v.SystemFrom, v.RingSeq, ids(v.ProcList), ids(v.FailedList))
	case *wire.CommitToken:
		d.formed[v.RingID] = true
		var memb []string
		for _, e := range v.MembList {
			memb = append(memb, fmt.Sprintf("%s/aru=%d/hd=%d/rf=%d", e.RingID, e.Aru, e.HighDelivered, e.ReceivedFlg))
		}
		return fmt.Sprintf("commit_token ring=%s token_seq=%d memb_index=%d addr=%s memb=[%s]",
			v.RingID, v.TokenSeq, v.MembIndex, ids(v.Addr), strings.Join(memb, " "))
	case *wire.TokenHoldCancel:
		return fmt.Sprintf("token_hold_cancel ring=%s from=%d", v.RingID, h.NodeID)
	}
	return h.Type.String()
}

func (d *dumper) describeMcast(v *wire.Mcast) string {
	s := fmt.Sprintf("mcast ring=%s from=%d seq=%d encap=%s", v.RingID, v.SystemFrom, v.Seq, encapName(v.Header.Encapsulated))
	payload := v.Payload
	if v.Header.Encapsulated == wire.EncapsulatedRecovery {
		inner, err := wire.Decode(payload)
		im, ok := inner.(*wire.Mcast)
		if err != nil || !ok {
			d.sum.errors["bad_encapsulation"]++
			return s + fmt.Sprintf(" recovered=? (%d bytes undecodable)", len(payload))
		}
		s += fmt.Sprintf(" recovered=[ring=%s from=%d seq=%d]", im.RingID, im.SystemFrom, im.Seq)
		// Recovered copies repeat old-ring messages; their contents were
		// shown when first sent, so only the envelope is reported.
		return s + fmt.Sprintf(" size=%d", len(im.Payload))
	}
	s += fmt.Sprintf(" size=%d", len(payload))
	key := mcastKey{v.RingID, v.Seq}
	if d.seen[key] {
		return s + " (copy)"
	}
	d.seen[key] = true
	ph, err := pg.ParsePacket(payload, v.Header.BigEndian)
	if err != nil {
		d.sum.errors["bad_totempg"]++
		return s + " pg=ERROR(" + err.Error() + ")"
	}
	s += fmt.Sprintf(" pg[msgs=%d frag=%d cont=%d]", len(ph.Lens), ph.Fragmented, ph.Continuation)
	rs := d.syncOf(v.RingID, v.Seq)
	d.asm.SetPhase(phaseFor(rs))
	msgs, err := d.asm.Deliver(nil, v.SystemFrom, payload, v.Header.BigEndian)
	if err != nil {
		d.sum.errors["bad_totempg"]++
		s += " reassembly=ERROR(" + err.Error() + ")"
	}
	for _, m := range msgs {
		s += " " + describeService(m)
		if rs.note(v.SystemFrom, m) {
			s += " (sync complete)"
		}
	}
	return s
}

// syncOf returns the sync state of ring r, creating it on r's first mcast.
// A ring the capture saw begin (its commit token, or its first message)
// starts its sync now; one that was running before the capture started is
// taken as synced.
func (d *dumper) syncOf(r wire.RingID, firstSeq uint32) *ringSync {
	rs := d.syncs[r]
	if rs == nil {
		rs = &ringSync{builders: map[uint32]bool{}, barriers: map[uint32]int{}}
		rs.done = !d.formed[r] && firstSeq != 1
		d.syncs[r] = rs
	}
	return rs
}

// phaseFor picks the totempg reassembly buffers a receiver uses for an
// mcast of a ring. Corosync keeps two per sender: from the transitional
// configuration change until the sync protocol of the new ring completes
// (totempg_trans_ack) it assembles into the transitional set, afterwards
// into the regular one. A sender's fragmented message cut by a membership
// change therefore continues, after the new ring's sync traffic, where it
// stopped in the regular set; the recovery capture shows exactly that. A
// ring whose sync the dump sees start but never complete stays
// transitional throughout, which is harmless: one set is used consistently.
func phaseFor(rs *ringSync) pg.Phase {
	if rs.done {
		return pg.PhaseRegular
	}
	return pg.PhaseTransitional
}

// note records a sync message from node and reports whether it completed
// the ring's sync: every node that announced services has sent one
// barrier per service.
func (rs *ringSync) note(node uint32, m pg.Message) bool {
	if rs.done || !inGroup(m, pg.GroupSync) {
		return false
	}
	sm, err := exec.DecodeSync(m.Payload)
	if err != nil {
		return false
	}
	switch v := sm.(type) {
	case *exec.ServiceBuild:
		rs.builders[node] = true
		rs.services = max(rs.services, len(v.Services))
	case *exec.Barrier:
		rs.barriers[node]++
	}
	if rs.services == 0 || len(rs.builders) == 0 {
		return false
	}
	for n := range rs.builders {
		if rs.barriers[n] < rs.services {
			return false
		}
	}
	rs.done = true
	return true
}

func inGroup(m pg.Message, group string) bool {
	for _, g := range m.Groups {
		if string(g) == group {
			return true
		}
	}
	return false
}

// Service ids as Corosync numbers them (corodefs.h).
var serviceNames = map[int]string{0: "cmap", 1: "cfg", 2: "cpg", 3: "quorum", 4: "pload", 5: "votequorum", 6: "mon", 7: "wd"}

// describeService names one complete totempg message by its group and, for
// the services group, by the service and function in its exec header.
func describeService(m pg.Message) string {
	var groups []string
	for _, g := range m.Groups {
		groups = append(groups, string(g))
	}
	group := strings.Join(groups, ",")
	p := m.Payload
	if len(p) < 16 {
		return fmt.Sprintf("%s:%dB", group, len(p))
	}
	bo := uint32le
	if m.Swapped {
		bo = uint32be
	}
	id := bo(p[0:4])
	switch group {
	case pg.GroupServices:
		svc, fn := int(id>>16), int(id&0xffff)
		name, ok := serviceNames[svc]
		if !ok {
			name = fmt.Sprintf("service%d", svc)
		}
		return fmt.Sprintf("a:%s.%d:%dB", name, fn, len(p))
	case pg.GroupSync:
		kind := map[uint32]string{0: "barrier", 1: "service_build"}[id]
		if kind == "" {
			kind = fmt.Sprintf("id%d", id)
		}
		return fmt.Sprintf("sync:%s:%dB", kind, len(p))
	}
	return fmt.Sprintf("%s:%dB", group, len(p))
}

func uint32le(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func uint32be(b []byte) uint32 {
	return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
}

// rtrList shows the sequence numbers a token asks to be retransmitted,
// with the ring only for entries from a ring other than the token's.
func rtrList(t *wire.OrfToken) string {
	if len(t.RtrList) == 0 {
		return ""
	}
	parts := make([]string, len(t.RtrList))
	for i, it := range t.RtrList {
		parts[i] = fmt.Sprint(it.Seq)
		if it.RingID != t.RingID {
			parts[i] = it.RingID.String() + "/" + parts[i]
		}
	}
	return "(" + strings.Join(parts, ",") + ")"
}

func encapName(e uint8) string {
	switch e {
	case wire.EncapsulatedNormal:
		return "normal"
	case wire.EncapsulatedRecovery:
		return "recovery"
	}
	return fmt.Sprintf("%d", e)
}

func ids(l []uint32) string {
	parts := make([]string, len(l))
	for i, id := range l {
		parts[i] = fmt.Sprint(id)
	}
	return "(" + strings.Join(parts, ",") + ")"
}
