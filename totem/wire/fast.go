package wire

// The functions here decode into a caller-owned message so that the
// receive loop can take tokens and mcasts off the wire without allocating:
// a ring at full speed sees one token per node per rotation and thousands
// of mcasts a second, and garbage per datagram shows up as GC pauses in
// token rotation time.

// DecodeOrfTokenInto decodes a token datagram into t. t.RtrList's backing
// array is reused when it is large enough (it is allocated with room for
// MaxRtrEntries the first time), so a token reused across datagrams costs
// no allocation. A datagram that is not a well-formed token yields the same
// errors as Decode, and t is left unchanged.
func DecodeOrfTokenInto(b []byte, t *OrfToken) error {
	h, err := DecodeHeader(b)
	if err != nil {
		return err
	}
	if h.Type != TypeOrfToken {
		return decodeErr(h.Type, ErrBadType, "want %s", TypeOrfToken)
	}
	r := reader{b: b, off: HeaderSize, be: h.BigEndian}
	return fillOrfToken(h, &r, t)
}

// DecodeMcastView decodes an mcast datagram into m without copying: on
// success m.Payload is a sub-slice of b, valid only while b is. Callers that
// keep the message past the receive buffer's reuse must copy the payload
// (Decode does that for them).
func DecodeMcastView(b []byte, m *Mcast) error {
	h, err := DecodeHeader(b)
	if err != nil {
		return err
	}
	if h.Type != TypeMcast {
		return decodeErr(h.Type, ErrBadType, "want %s", TypeMcast)
	}
	r := reader{b: b, off: HeaderSize, be: h.BigEndian}
	return fillMcast(h, &r, m)
}
