package srp

import (
	"errors"
	"time"
)

// Corosync constants that shape queues and lists.
const (
	// QueueRtrItemsMax is QUEUE_RTR_ITEMS_SIZE_MAX: how far sequence numbers
	// may run ahead of the last released message.
	QueueRtrItemsMax = 16384
	// DefaultMessageQueueMax is MESSAGE_QUEUE_MAX for the default net_mtu
	// of 1410: 4 MiB of packets.
	DefaultMessageQueueMax = 4 * 1024 * 1024 / 1410
)

// Timing holds the effective totem timing values, already derived.
type Timing struct {
	Token                      time.Duration
	TokenRetransmit            time.Duration
	Hold                       time.Duration
	Join                       time.Duration
	Consensus                  time.Duration
	Merge                      time.Duration
	FailRecvConst              int
	SeqnoUnchangedConst        int
	MaxMessages                int
	WindowSize                 int
	MissCountConst             int
	TokenRetransmitsBeforeLoss int
	// TokenWarning is totem.token_warning: the percentage of Token after
	// which a late token is logged ("Token has not been received in N
	// ms"), repeated at that interval; 0 disables the warning.
	TokenWarning int
	// SendJoin is always 0 here: Corosync sleeps a random time before each
	// join when it is set, which a pure state machine cannot do.
	SendJoin time.Duration
}

// BaseTiming is what corosync.conf says; zero fields take Corosync's
// defaults.
type BaseTiming struct {
	Token                      time.Duration
	TokenCoefficient           time.Duration
	TokenCoefficientSet        bool // an explicit 0 disables the coefficient
	TokenRetransmitsBeforeLoss int
	TokenRetransmit            time.Duration
	Hold                       time.Duration
	Join                       time.Duration
	Consensus                  time.Duration
	Merge                      time.Duration
	FailRecvConst              int
	SeqnoUnchangedConst        int
	MaxMessages                int
	WindowSize                 int
	MissCountConst             int
	// TokenWarning defaults to Corosync's 75 (percent); TokenWarningSet
	// with 0 disables the warning.
	TokenWarning    int
	TokenWarningSet bool
}

// minTimeout is 3·(1000/HZ) with HZ=100.
const minTimeout = 30 * time.Millisecond

// TimingFromConfig derives the effective values the way Corosync 3.1.7's
// totem_volatile_config_read does, for a nodelist of nodeCount entries.
func TimingFromConfig(b BaseTiming, nodeCount int) Timing {
	t := Timing{
		Token:                      3000 * time.Millisecond,
		TokenRetransmitsBeforeLoss: 4,
		Join:                       50 * time.Millisecond,
		Merge:                      200 * time.Millisecond,
		FailRecvConst:              2500,
		SeqnoUnchangedConst:        30,
		MaxMessages:                17,
		WindowSize:                 50,
		MissCountConst:             5,
		TokenWarning:               75,
	}
	if b.TokenWarningSet || b.TokenWarning > 0 {
		t.TokenWarning = b.TokenWarning
	}
	if b.Token > 0 {
		t.Token = b.Token
	}
	coef := 650 * time.Millisecond
	if b.TokenCoefficientSet || b.TokenCoefficient > 0 {
		coef = b.TokenCoefficient
	}
	if nodeCount > 2 && coef > 0 {
		t.Token += time.Duration(nodeCount-2) * coef
	}
	if b.TokenRetransmitsBeforeLoss > 0 {
		t.TokenRetransmitsBeforeLoss = b.TokenRetransmitsBeforeLoss
	}
	// Corosync computes these in whole milliseconds with int truncation.
	tokMs := int64(t.Token / time.Millisecond)
	t.TokenRetransmit = time.Duration(int64(float64(tokMs)/(float64(t.TokenRetransmitsBeforeLoss)+0.2))) * time.Millisecond
	if b.TokenRetransmit > 0 {
		t.TokenRetransmit = b.TokenRetransmit
	}
	rtMs := int64(t.TokenRetransmit / time.Millisecond)
	t.Hold = time.Duration(int64(float64(rtMs)*0.8)-10) * time.Millisecond
	if b.Hold > 0 {
		t.Hold = b.Hold
	}
	t.Consensus = time.Duration(int64(float64(tokMs)*1.2)) * time.Millisecond
	if b.Consensus > 0 {
		t.Consensus = b.Consensus
	}
	if b.Join > 0 {
		t.Join = b.Join
	}
	if b.Merge > 0 {
		t.Merge = b.Merge
	}
	for _, p := range []*time.Duration{&t.Token, &t.TokenRetransmit, &t.Hold, &t.Join, &t.Consensus, &t.Merge} {
		if *p < minTimeout {
			*p = minTimeout
		}
	}
	setInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setInt(&t.FailRecvConst, b.FailRecvConst)
	setInt(&t.SeqnoUnchangedConst, b.SeqnoUnchangedConst)
	setInt(&t.MaxMessages, b.MaxMessages)
	setInt(&t.WindowSize, b.WindowSize)
	setInt(&t.MissCountConst, b.MissCountConst)
	return t
}

// DefaultTiming is TimingFromConfig with every value at its default.
func DefaultTiming(nodeCount int) Timing { return TimingFromConfig(BaseTiming{}, nodeCount) }

// Config configures one Node.
type Config struct {
	NodeID uint32
	// Nodes is the nodelist. Ring order comes from sorting member nodeids;
	// the list is kept for the caller's reference and validation.
	Nodes  []uint32
	Timing Timing
	// MessageQueueMax bounds each send queue; 0 means DefaultMessageQueueMax.
	MessageQueueMax int
}

// Validate reports configuration errors a Node cannot run with.
func (c Config) Validate() error {
	if c.NodeID == 0 {
		return errors.New("srp: nodeid 0 is reserved for LEAVE messages")
	}
	t := c.Timing
	if t.Token <= 0 || t.TokenRetransmit <= 0 || t.Join <= 0 || t.Consensus <= 0 || t.Merge <= 0 || t.Hold <= 0 {
		return errors.New("srp: timing values must be positive")
	}
	if t.Consensus < t.Join {
		return errors.New("srp: consensus must be at least join")
	}
	if t.TokenWarning < 0 || t.TokenWarning > 100 {
		return errors.New("srp: token_warning must be between 0 (disabled) and 100")
	}
	if t.WindowSize <= 0 || t.MaxMessages <= 0 || t.MissCountConst <= 0 {
		return errors.New("srp: window_size, max_messages and miss_count_const must be positive")
	}
	return nil
}

// RingSeqStore persists the ring sequence number (Corosync's
// ringid_<nodeid> file).
type RingSeqStore interface {
	LoadRingSeq() (uint64, error)
	StoreRingSeq(seq uint64) error
}

// MemRingSeqStore keeps the ring seq in memory; the simulator uses it to
// model a state directory that survives restarts.
type MemRingSeqStore struct{ Seq uint64 }

func (m *MemRingSeqStore) LoadRingSeq() (uint64, error)  { return m.Seq, nil }
func (m *MemRingSeqStore) StoreRingSeq(seq uint64) error { m.Seq = seq; return nil }
