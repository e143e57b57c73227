package srp

import (
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/wire"
)

func TestTimingFromConfigMatchesCorosync(t *testing.T) {
	ms := time.Millisecond
	two := DefaultTiming(2)
	if two.Token != 3000*ms || two.TokenRetransmit != 714*ms || two.Hold != 561*ms || two.Consensus != 3600*ms ||
		two.Join != 50*ms || two.Merge != 200*ms || two.MaxMessages != 17 || two.WindowSize != 50 ||
		two.MissCountConst != 5 || two.FailRecvConst != 2500 || two.SeqnoUnchangedConst != 30 {
		t.Fatalf("2-node defaults %+v differ from the values a Corosync 3.1.7 node reports", two)
	}
	five := DefaultTiming(5)
	if five.Token != 4950*ms || five.Consensus != 5940*ms {
		t.Fatalf("5 nodes: token %v consensus %v, want 4950ms and 5940ms (token_coefficient 650ms)", five.Token, five.Consensus)
	}
	noCoef := TimingFromConfig(BaseTiming{Token: 1000 * ms, TokenCoefficientSet: true}, 5)
	if noCoef.Token != 1000*ms || noCoef.TokenRetransmit != 238*ms || noCoef.Consensus != 1200*ms {
		t.Fatalf("token 1000, coefficient 0: %+v", noCoef)
	}
	tiny := TimingFromConfig(BaseTiming{Token: 10 * ms, TokenCoefficientSet: true}, 2)
	if tiny.Token != 30*ms || tiny.Hold != 30*ms {
		t.Fatalf("timeouts below 3 jiffies must be raised to 30ms: %+v", tiny)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{NodeID: 0, Timing: DefaultTiming(2)}, nil); err == nil {
		t.Fatal("nodeid 0 accepted")
	}
	bad := DefaultTiming(2)
	bad.Consensus = bad.Join / 2
	if _, err := New(Config{NodeID: 1, Timing: bad}, nil); err == nil {
		t.Fatal("consensus below join accepted")
	}
}

func TestSerialSeqCompare(t *testing.T) {
	if !seqLT(0xfffffff0, 5) || seqLT(5, 0xfffffff0) || !seqLTE(7, 7) {
		t.Fatal("serial comparison must survive wrap-around")
	}
}

func TestNoticeWording(t *testing.T) {
	c := ConfChg{Type: Regular, RingID: wire.RingID{Rep: 1, Seq: 9}, Members: []uint32{1, 2, 3}, Joined: []uint32{2, 3}}
	if got, want := c.Notice(), "A new membership (1.9) was formed. Members joined: 2 3"; got != want {
		t.Fatalf("notice %q, want %q", got, want)
	}
	c = ConfChg{Type: Regular, RingID: wire.RingID{Rep: 2, Seq: 13}, Members: []uint32{2}, Left: []uint32{1}}
	if got, want := c.Notice(), "A new membership (2.d) was formed. Members left: 1"; got != want {
		t.Fatalf("notice %q, want %q", got, want)
	}
	if f := c.LogFields(); f["subsys"] != "TOTEM" || f["ring_id"] != "2.d" {
		t.Fatalf("log fields %v", f)
	}
}

func TestStatsKeysUseCorosyncNames(t *testing.T) {
	k := Stats{OrfTokenTx: 3, McastRetx: 2, RxMsgDropped: 1}.Keys()
	if k["orf_token_tx"] != 3 || k["mcast_retx"] != 2 || k["rx_msg_dropped"] != 1 || len(k) != 24 {
		t.Fatalf("keys %v", k)
	}
}
