package pg

import "testing"

func TestPackerQueueStats(t *testing.T) {
	p, err := NewPacker(1410)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.QueueStats(2975); s != (QueueStats{MsgQueueAvail: 2975}) {
		t.Fatalf("idle packer: %+v", s)
	}
	// A small message is staged for the next Flush: one entry spoken for.
	pkts, err := p.Add(nil, 2, []string{"a"}, []byte("hello"))
	if err != nil || len(pkts) != 0 {
		t.Fatalf("Add: %d packets, %v", len(pkts), err)
	}
	if s := p.QueueStats(10); s != (QueueStats{MsgQueueAvail: 10, MsgReserved: 1}) {
		t.Fatalf("staged message: %+v", s)
	}
	p.Flush(nil)
	if s := p.QueueStats(-3); s != (QueueStats{}) {
		t.Fatalf("after flush, full queue: %+v", s)
	}
}
