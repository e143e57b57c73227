package wire

import (
	"encoding/binary"
	"fmt"
)

// DecodeHeader reads and validates the 13-byte header. It accepts both byte
// orders (the magic tells which) and nothing but version 3, the same gate
// Corosync applies before looking any further.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, decodeErr(Type(0xff), ErrShort, "%d bytes, header needs %d", len(b), HeaderSize)
	}
	switch {
	case binary.LittleEndian.Uint16(b) == Magic:
		h.BigEndian = false
	case binary.BigEndian.Uint16(b) == Magic:
		h.BigEndian = true
	default:
		return h, decodeErr(Type(b[3]), ErrBadMagic, "magic bytes %02x %02x (Corosync 2.x and knet frames look like this)", b[0], b[1])
	}
	if b[2] != Version {
		return h, decodeErr(Type(b[3]), ErrBadVersion, "version %d, want %d", b[2], Version)
	}
	r := reader{b: b, off: 5, be: h.BigEndian}
	h.Type = Type(b[3])
	h.Encapsulated = b[4]
	h.NodeID = r.u32()
	h.TargetNodeID = r.u32()
	return h, nil
}

// Decode parses one totem datagram. Slices in the result (payloads, lists)
// are fresh copies, so the caller may reuse b.
func Decode(b []byte) (Message, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	r := reader{b: b, off: HeaderSize, be: h.BigEndian}
	switch h.Type {
	case TypeOrfToken:
		return decodeOrfToken(h, &r)
	case TypeMcast:
		return decodeMcast(h, &r)
	case TypeMergeDetect:
		return decodeMergeDetect(h, &r)
	case TypeJoin:
		return decodeJoin(h, &r)
	case TypeCommitToken:
		return decodeCommitToken(h, &r)
	case TypeTokenHoldCancel:
		return decodeTokenHoldCancel(h, &r)
	}
	return nil, decodeErr(h.Type, ErrBadType, "type byte %d", uint8(h.Type))
}

func need(h Header, b []byte, n int) error {
	if len(b) < n {
		return decodeErr(h.Type, ErrShort, "%d bytes, need %d", len(b), n)
	}
	return nil
}

func decodeOrfToken(h Header, r *reader) (Message, error) {
	t := &OrfToken{}
	if err := fillOrfToken(h, r, t); err != nil {
		return nil, err
	}
	return t, nil
}

// fillOrfToken decodes a token into t, reusing t.RtrList's backing array
// when it is large enough.
func fillOrfToken(h Header, r *reader, t *OrfToken) error {
	if err := need(h, r.b, OrfTokenFixedSize); err != nil {
		return err
	}
	// Counts are checked before anything is written to t, so a rejected
	// datagram leaves the caller's token as it was.
	n := readU32At(r.b, 53, r.be)
	if n > MaxRtrEntries {
		return decodeErr(h.Type, ErrBadCount, "rtr_list_entries %d > %d", n, MaxRtrEntries)
	}
	if want := OrfTokenFixedSize + int(n)*RtrItemSize; len(r.b) != want {
		return decodeErr(h.Type, ErrLength, "%d bytes for %d retransmit entries, want %d", len(r.b), n, want)
	}
	t.Header = h
	t.Seq = r.u32()
	t.TokenSeq = r.u32()
	t.Aru = r.u32()
	t.AruAddr = r.u32()
	t.RingID = r.ringID()
	t.Backlog = r.u32()
	t.FCC = r.u32()
	t.RetransFlg = r.u32()
	r.off += 4 // rtr_list_entries, read above
	switch {
	case n == 0:
		t.RtrList = t.RtrList[:0]
	case cap(t.RtrList) >= int(n):
		t.RtrList = t.RtrList[:n]
	default:
		t.RtrList = make([]RtrItem, n, MaxRtrEntries)
	}
	for i := range t.RtrList {
		t.RtrList[i].RingID = r.ringID()
		t.RtrList[i].Seq = r.u32()
	}
	return nil
}

func readU32At(b []byte, off int, be bool) uint32 {
	r := reader{b: b, off: off, be: be}
	return r.u32()
}

func decodeMcast(h Header, r *reader) (Message, error) {
	m := &Mcast{}
	if err := fillMcast(h, r, m); err != nil {
		return nil, err
	}
	m.Payload = append([]byte(nil), m.Payload...)
	return m, nil
}

// fillMcast decodes an mcast into m with m.Payload aliasing the datagram.
func fillMcast(h Header, r *reader, m *Mcast) error {
	if err := need(h, r.b, McastHeaderSize); err != nil {
		return err
	}
	m.Header = h
	m.SystemFrom = r.u32()
	m.Seq = r.u32()
	m.ThisSeqno = r.u32()
	m.RingID = r.ringID()
	m.NodeID = r.u32()
	m.Guarantee = r.u32()
	m.Payload = nil // an empty payload is nil, as Decode's copy would be
	if len(r.b) > McastHeaderSize {
		m.Payload = r.b[McastHeaderSize:len(r.b):len(r.b)]
	}
	return nil
}

func decodeMergeDetect(h Header, r *reader) (Message, error) {
	if len(r.b) != MergeDetectSize {
		return nil, decodeErr(h.Type, ErrLength, "%d bytes, want %d", len(r.b), MergeDetectSize)
	}
	m := &MergeDetect{Header: h}
	m.SystemFrom = r.u32()
	m.RingID = r.ringID()
	return m, nil
}

func decodeJoin(h Header, r *reader) (Message, error) {
	if err := need(h, r.b, JoinFixedSize); err != nil {
		return nil, err
	}
	j := &Join{Header: h}
	j.SystemFrom = r.u32()
	np, nf := r.u32(), r.u32()
	j.RingSeq = r.u64()
	if np > MaxProcessors || nf > MaxProcessors {
		return nil, decodeErr(h.Type, ErrBadCount, "proc %d / failed %d entries, at most %d each", np, nf, MaxProcessors)
	}
	if want := JoinFixedSize + 4*int(np+nf); len(r.b) != want {
		return nil, decodeErr(h.Type, ErrLength, "%d bytes for %d proc + %d failed entries, want %d", len(r.b), np, nf, want)
	}
	j.ProcList = r.u32s(int(np))
	j.FailedList = r.u32s(int(nf))
	return j, nil
}

func decodeCommitToken(h Header, r *reader) (Message, error) {
	if err := need(h, r.b, CommitTokenFixedSize); err != nil {
		return nil, err
	}
	c := &CommitToken{Header: h}
	c.TokenSeq = r.u32()
	c.RingID = r.ringID()
	c.RetransFlg = r.u32()
	c.MembIndex = int32(r.u32())
	n := int32(r.u32())
	if n < 0 || n > MaxProcessors {
		return nil, decodeErr(h.Type, ErrBadCount, "addr_entries %d not in 0..%d", n, MaxProcessors)
	}
	if c.MembIndex < 0 || c.MembIndex > n {
		return nil, decodeErr(h.Type, ErrBadCount, "memb_index %d not in 0..%d", c.MembIndex, n)
	}
	if want := CommitTokenFixedSize + int(n)*(4+CommitMemberEntrySize); len(r.b) != want {
		return nil, decodeErr(h.Type, ErrLength, "%d bytes for %d members, want %d", len(r.b), n, want)
	}
	c.Addr = r.u32s(int(n))
	if n > 0 {
		c.MembList = make([]CommitMember, n)
		for i := range c.MembList {
			e := &c.MembList[i]
			e.RingID = r.ringID()
			e.Aru = r.u32()
			e.HighDelivered = r.u32()
			e.ReceivedFlg = r.u32()
		}
	}
	return c, nil
}

func decodeTokenHoldCancel(h Header, r *reader) (Message, error) {
	if len(r.b) != TokenHoldCancelSize {
		return nil, decodeErr(h.Type, ErrLength, "%d bytes, want %d", len(r.b), TokenHoldCancelSize)
	}
	return &TokenHoldCancel{Header: h, RingID: r.ringID()}, nil
}

// Size returns the encoded length of m.
func Size(m Message) int {
	switch v := m.(type) {
	case *OrfToken:
		return OrfTokenFixedSize + len(v.RtrList)*RtrItemSize
	case *Mcast:
		return McastHeaderSize + len(v.Payload)
	case *MergeDetect:
		return MergeDetectSize
	case *Join:
		return JoinFixedSize + 4*(len(v.ProcList)+len(v.FailedList))
	case *CommitToken:
		return CommitTokenFixedSize + len(v.Addr)*(4+CommitMemberEntrySize)
	case *TokenHoldCancel:
		return TokenHoldCancelSize
	}
	return 0
}

// Encode returns the datagram for m.
func Encode(m Message) ([]byte, error) {
	return AppendEncode(make([]byte, 0, Size(m)), m)
}

// AppendEncode appends the datagram for m to dst. The header's Type is
// taken from the message's Go type, so a caller cannot send a mislabelled
// message; integers go out in the byte order the header names.
func AppendEncode(dst []byte, m Message) ([]byte, error) {
	h := *m.Hdr()
	w := writer{b: dst, be: h.BigEndian}
	switch v := m.(type) {
	case *OrfToken:
		if len(v.RtrList) > MaxRtrEntries {
			return dst, fmt.Errorf("%w: %d retransmit entries, at most %d", ErrUnencodable, len(v.RtrList), MaxRtrEntries)
		}
		h.Type = TypeOrfToken
		w.header(h)
		w.u32(v.Seq)
		w.u32(v.TokenSeq)
		w.u32(v.Aru)
		w.u32(v.AruAddr)
		w.ringID(v.RingID)
		w.u32(v.Backlog)
		w.u32(v.FCC)
		w.u32(v.RetransFlg)
		w.u32(uint32(len(v.RtrList)))
		for _, it := range v.RtrList {
			w.ringID(it.RingID)
			w.u32(it.Seq)
		}
	case *Mcast:
		h.Type = TypeMcast
		w.header(h)
		w.u32(v.SystemFrom)
		w.u32(v.Seq)
		w.u32(v.ThisSeqno)
		w.ringID(v.RingID)
		w.u32(v.NodeID)
		w.u32(v.Guarantee)
		w.b = append(w.b, v.Payload...)
	case *MergeDetect:
		h.Type = TypeMergeDetect
		w.header(h)
		w.u32(v.SystemFrom)
		w.ringID(v.RingID)
	case *Join:
		if len(v.ProcList) > MaxProcessors || len(v.FailedList) > MaxProcessors {
			return dst, fmt.Errorf("%w: join lists of %d and %d entries, at most %d each", ErrUnencodable, len(v.ProcList), len(v.FailedList), MaxProcessors)
		}
		h.Type = TypeJoin
		w.header(h)
		w.u32(v.SystemFrom)
		w.u32(uint32(len(v.ProcList)))
		w.u32(uint32(len(v.FailedList)))
		w.u64(v.RingSeq)
		for _, id := range v.ProcList {
			w.u32(id)
		}
		for _, id := range v.FailedList {
			w.u32(id)
		}
	case *CommitToken:
		if len(v.Addr) != len(v.MembList) || len(v.Addr) > MaxProcessors {
			return dst, fmt.Errorf("%w: commit token with %d addresses and %d member entries", ErrUnencodable, len(v.Addr), len(v.MembList))
		}
		h.Type = TypeCommitToken
		w.header(h)
		w.u32(v.TokenSeq)
		w.ringID(v.RingID)
		w.u32(v.RetransFlg)
		w.u32(uint32(v.MembIndex))
		w.u32(uint32(len(v.Addr)))
		for _, id := range v.Addr {
			w.u32(id)
		}
		for _, e := range v.MembList {
			w.ringID(e.RingID)
			w.u32(e.Aru)
			w.u32(e.HighDelivered)
			w.u32(e.ReceivedFlg)
		}
	case *TokenHoldCancel:
		h.Type = TypeTokenHoldCancel
		w.header(h)
		w.ringID(v.RingID)
	default:
		return dst, fmt.Errorf("%w: %T", ErrUnencodable, m)
	}
	return w.b, nil
}

// reader walks a buffer whose length has already been checked. The byte
// order is a bool rather than a binary.ByteOrder interface: the interface
// call per field costs more than the field itself on the token hot path.
type reader struct {
	b   []byte
	off int
	be  bool
}

func (r *reader) u32() uint32 {
	p := r.b[r.off : r.off+4]
	r.off += 4
	if r.be {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *reader) u64() uint64 {
	p := r.b[r.off : r.off+8]
	r.off += 8
	if r.be {
		return binary.BigEndian.Uint64(p)
	}
	return binary.LittleEndian.Uint64(p)
}

func (r *reader) ringID() RingID {
	rep := r.u32()
	return RingID{Rep: rep, Seq: r.u64()}
}

func (r *reader) u32s(n int) []uint32 {
	if n == 0 {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = r.u32()
	}
	return out
}

type writer struct {
	b  []byte
	be bool
}

func (w *writer) header(h Header) {
	if w.be {
		w.b = binary.BigEndian.AppendUint16(w.b, Magic)
	} else {
		w.b = binary.LittleEndian.AppendUint16(w.b, Magic)
	}
	w.b = append(w.b, Version, byte(h.Type), h.Encapsulated)
	w.u32(h.NodeID)
	w.u32(h.TargetNodeID)
}

func (w *writer) u32(v uint32) {
	if w.be {
		w.b = binary.BigEndian.AppendUint32(w.b, v)
	} else {
		w.b = binary.LittleEndian.AppendUint32(w.b, v)
	}
}

func (w *writer) u64(v uint64) {
	if w.be {
		w.b = binary.BigEndian.AppendUint64(w.b, v)
	} else {
		w.b = binary.LittleEndian.AppendUint64(w.b, v)
	}
}

func (w *writer) ringID(r RingID) {
	w.u32(r.Rep)
	w.u64(r.Seq)
}
