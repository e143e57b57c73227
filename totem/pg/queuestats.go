package pg

// QueueStats is totempg's part of Corosync's stats map (stats.pg.*).
type QueueStats struct {
	// MsgQueueAvail is how many more packets srp's send queue in use
	// accepts (Corosync: totemsrp_avail when it last checked).
	MsgQueueAvail uint32
	// MsgReserved is how many send-queue entries are spoken for by
	// messages accepted but not yet queued in srp. Corosync counts the
	// entries it reserves for the IPC request being handled, plus one it
	// always keeps back; ringfenced handles one request at a time with
	// headroom checked before reading it, so what is spoken for between
	// requests is the packet the packer holds for its next Flush.
	MsgReserved uint32
}

// QueueStats reports the packer's stats given srp's free queue entries.
func (p *Packer) QueueStats(avail int) QueueStats {
	s := QueueStats{}
	if avail > 0 {
		s.MsgQueueAvail = uint32(avail)
	}
	if len(p.staged) > 0 {
		s.MsgReserved = uint32(QueueSlots(len(p.staged), p.mtu))
	}
	return s
}
