package vqipc

import (
	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/votequorum"
)

// Services bundles the quorum and votequorum IPC services of one node.
type Services struct {
	Quorum     *Quorum
	Votequorum *Votequorum
	m          *votequorum.Machine
	send       func(msgs ...exec.Message)
	log        *logrus.Entry
}

// New serves machine m. provider says whether quorum.provider is set
// (what libquorum's GETTYPE reports). send receives the votequorum exec
// messages to multicast.
//
// Services owns m.Ready(): nothing else may call it. Whoever drives the
// machine (sync, deliveries, Tick) calls Flush afterwards.
func New(m *votequorum.Machine, provider bool, send func(msgs ...exec.Message)) *Services {
	return &Services{Quorum: NewQuorum(provider), Votequorum: NewVotequorum(m), m: m, send: send,
		log: logrus.WithField("subsys", "VOTEQ")}
}

// Flush carries out the machine's pending output in Corosync's order:
// multicast messages, quorum changes (quorum service trackers), votequorum
// notifications, deferred qdevice registration replies, log lines.
func (s *Services) Flush() {
	r := s.m.Ready()
	if len(r.Messages) > 0 && s.send != nil {
		msgs := make([]exec.Message, len(r.Messages))
		for i, m := range r.Messages {
			msgs[i] = exec.ServiceMessage(m.Encode())
		}
		s.send(msgs...)
	}
	for _, ev := range r.QuorumEvents {
		s.Quorum.SetQuorum(ev)
	}
	for _, n := range r.Notifications {
		s.Votequorum.notify(n)
	}
	for _, st := range r.RegisterReplies {
		s.Votequorum.registerReply(st)
	}
	for _, l := range r.Logs {
		l.Emit(s.log)
	}
}

// NodelistChanges forwards exec.QuorumSync.Changes() to the quorum
// service's V1 trackers.
func (s *Services) NodelistChanges(changes []exec.NodelistChange) {
	for _, c := range changes {
		s.Quorum.NodelistChange(c)
	}
}
