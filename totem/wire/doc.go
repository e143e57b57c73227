// Package wire owns the bytes of the Totem Single Ring Protocol as Corosync
// 3.1 puts them on the udp and udpu transports: the 13-byte message header
// and the six message types (ORF token, mcast, merge detect, join, commit
// token, token hold cancel).
//
// Corosync writes every integer in the sender's native byte order and the
// receiver converts; the header magic 0xC070 doubles as the endian detector.
// Decoders accept both orders and remember which one they saw so that a
// message re-encodes to the very bytes it came from. Decoders never panic:
// hostile input yields an error that says what is wrong.
//
// The types here are plain data. The protocol that gives them meaning lives
// in totem/srp; the totempg envelope inside an mcast payload lives in
// totem/pg.
package wire
