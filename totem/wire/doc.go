// Package wire owns the bytes of the Totem Single Ring Protocol as Corosync
// 3.1 puts them on the udp and udpu transports: the 13-byte message header
// and the six message types (ORF token, mcast, merge detect, join, commit
// token, token hold cancel).
//
// Corosync writes every integer in the sender's native byte order and the
// receiver converts; the header magic 0xC070 doubles as the endian detector.
// Decoders accept both orders and remember which one they saw so that a
// message re-encodes to the very bytes it came from. Decoders never panic:
// hostile input yields a *DecodeError whose Unwrap gives one sentinel per
// kind of rejection (ErrShort, ErrBadMagic, ErrBadVersion, ErrBadType,
// ErrBadCount, ErrLength), so a daemon can count drops by cause.
//
// The checks are a little stricter than Corosync's, which only demand a
// minimum length: a datagram must be exactly as long as its counts say (no
// Corosync sends trailing bytes, and exactness keeps decode and encode
// inverse), a token may list at most 30 retransmit requests, joins and
// commit tokens at most 384 processors, and a commit token's memb_index
// must lie within its member list. Counts are checked against the datagram
// length before anything is allocated, so a hostile count cannot make the
// decoder allocate more than the datagram's own size.
//
// Decode copies what it returns. The receive hot path can use
// DecodeOrfTokenInto and DecodeMcastView instead, which fill a
// caller-owned message without allocating (the mcast payload then aliases
// the receive buffer).
//
// The types here are plain data. The protocol that gives them meaning lives
// in totem/srp; the totempg envelope inside an mcast payload lives in
// totem/pg.
package wire
