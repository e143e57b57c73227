package votequorum

import (
	"fmt"

	"github.com/sirupsen/logrus"
)

// Ready is what the machine asks its driver to do, collected since the last
// call to (*Machine).Ready. Carry it out in field order.
type Ready struct {
	// Messages are exec messages to multicast (TOTEM_AGREED, group "a") in
	// this order. They take effect on every node, this one included, only
	// when delivered back through Deliver.
	Messages []Message
	// QuorumEvents are corosync's quorum_callback: the quorum service
	// updates its quorate flag and view and notifies its clients.
	QuorumEvents []QuorumEvent
	// Notifications go to every votequorum client that tracks changes (the
	// IPC layer fills in each tracker's context).
	Notifications []Notification
	// RegisterReplies answer a QdeviceRegister that returned pending, in
	// order.
	RegisterReplies []Status
	// Logs are the operator log lines corosync would print.
	Logs []LogLine
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return len(r.Messages) == 0 && len(r.QuorumEvents) == 0 && len(r.Notifications) == 0 &&
		len(r.RegisterReplies) == 0 && len(r.Logs) == 0
}

// QuorumEvent is a quorum change (or a post-sync confirmation) for the
// quorum service: the member list of the current ring and whether this node
// is quorate.
type QuorumEvent struct {
	Quorate bool
	Members []uint32
	RingID  RingID
}

// NotificationKind selects the fields of a Notification.
type NotificationKind int

const (
	// QuorumNotification (res id 3): Quorate and Nodes.
	QuorumNotification NotificationKind = iota + 1
	// NodelistNotification (res id 5): RingID and Members.
	NodelistNotification
	// ExpectedVotesNotification (res id 4): ExpectedVotes.
	ExpectedVotesNotification
)

// NodeStatus is one entry of a quorum notification.
type NodeStatus struct {
	NodeID uint32
	State  NodeState
}

// Notification is a votequorum library callback.
type Notification struct {
	Kind          NotificationKind
	Quorate       bool
	Nodes         []NodeStatus
	RingID        RingID
	Members       []uint32
	ExpectedVotes uint32
}

func (n Notification) String() string {
	switch n.Kind {
	case QuorumNotification:
		s := fmt.Sprintf("quorum quorate=%v nodes=", n.Quorate)
		for i, e := range n.Nodes {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("%d:%s", e.NodeID, e.State)
		}
		return s
	case NodelistNotification:
		return fmt.Sprintf("nodelist ring=%s members=%v", n.RingID, n.Members)
	case ExpectedVotesNotification:
		return fmt.Sprintf("expected_votes %d", n.ExpectedVotes)
	}
	return fmt.Sprintf("notification(%d)", n.Kind)
}

// Subsystems of the log lines, as corosync tags them.
const (
	SubsysVotequorum = "VOTEQ"
	SubsysQuorum     = "QUORUM"
)

// LogLine is one operator log line.
type LogLine struct {
	Level  logrus.Level
	Subsys string
	Text   string
}

// Emit writes the line to a logrus logger with the subsys field.
func (l LogLine) Emit(log logrus.FieldLogger) {
	e := log.WithField("subsys", l.Subsys)
	switch l.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		e.Error(l.Text)
	case logrus.WarnLevel:
		e.Warn(l.Text)
	case logrus.InfoLevel:
		e.Info(l.Text)
	default:
		e.Debug(l.Text)
	}
}

// Corosync logs at NOTICE, which logrus lacks; notices map to Info and
// CRIT to Error.
const (
	levelCrit   = logrus.ErrorLevel
	levelNotice = logrus.InfoLevel
	levelInfo   = logrus.InfoLevel
	levelWarn   = logrus.WarnLevel
	levelDebug  = logrus.DebugLevel
)

// MembersLogLines formats the view list the way corosync's quorum service
// logs it: "Members[3]: 1 2 3", split over several lines ending in a
// backslash when the ids do not fit its 64-byte buffer.
func MembersLogLines(members []uint32) []string {
	const bufLen = 64
	var lines []string
	i := 0
	for {
		buf := ""
		for ; i < len(members); i++ {
			item := fmt.Sprintf(" %d", members[i])
			// snprintf needs room for the item and its NUL.
			if len(buf)+len(item) >= bufLen {
				break
			}
			buf += item
		}
		cont := ""
		if i < len(members) {
			cont = "\\"
		}
		lines = append(lines, fmt.Sprintf("Members[%d]:%s%s", len(members), buf, cont))
		if i == len(members) {
			return lines
		}
	}
}
