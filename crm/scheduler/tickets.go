package scheduler

import (
	"strings"

	"github.com/ringfence/ringfence/crm/cib"
)

type rscTicket struct {
	ticket     string
	granted    bool
	standby    bool
	role       string
	lossPolicy string
}

func (s *Scheduler) ticketState(id string) (granted, standby bool) {
	st := s.CIB.Tickets[id]
	if st == nil {
		return false, false
	}
	return cib.IsTrue(st["granted"]), cib.IsTrue(st["standby"])
}

// unpackTickets applies rsc_ticket constraints: resources depending on a
// ticket that is not granted (or in standby) are stopped, demoted, fenced
// or frozen according to loss-policy.
func (s *Scheduler) unpackTickets() {
	for _, c := range s.CIB.Constraints {
		if c.Name != "rsc_ticket" {
			continue
		}
		ticket := c.Get("ticket")
		if len(c.All("resource_set")) == 0 {
			for _, r := range s.resolveRefs(c.Get("rsc")) {
				s.newTicket(r, ticket, c.Get("rsc-role"), c.Get("loss-policy"))
			}
			continue
		}
		for _, set := range c.All("resource_set") {
			for _, r := range s.setMembers(set) {
				s.newTicket(r, ticket, set.Get("role"), c.Get("loss-policy"))
			}
		}
	}
}

func (s *Scheduler) newTicket(r *Resource, ticket, role, loss string) {
	rt := &rscTicket{ticket: ticket, role: cib.NormalizeRole(role)}
	if rt.role == RoleStarted {
		rt.role = ""
	}
	rt.granted, rt.standby = s.ticketState(ticket)
	loss = strings.ToLower(loss)
	switch {
	case loss == "fence" && s.StonithEnabled:
		rt.lossPolicy = "fence"
	case loss == "freeze":
		rt.lossPolicy = "freeze"
	case loss == "demote":
		rt.lossPolicy = "demote"
	case loss == "stop" || loss == "fence":
		rt.lossPolicy = "stop"
	case rt.role == RolePromoted:
		rt.lossPolicy = "demote"
	default:
		rt.lossPolicy = "stop"
	}
	r.rscTickets = append(r.rscTickets, rt)
	if !rt.granted || rt.standby {
		s.ticketConstraints(r, rt)
	}
}

func banEverywhere(s *Scheduler, r *Resource) {
	for _, n := range s.Nodes {
		addLocation(r, n, -cib.Infinity)
	}
}

func (s *Scheduler) ticketConstraints(r *Resource, rt *rscTicket) {
	if len(r.Children) > 0 {
		for _, c := range r.Children {
			s.ticketConstraints(c, rt)
		}
		return
	}
	roleMatches := rt.role == "" || rt.role == r.Role
	switch {
	case !rt.granted && len(r.Running) > 0:
		switch rt.lossPolicy {
		case "stop":
			banEverywhere(s, r)
		case "demote":
			if rt.role != RolePromoted {
				banEverywhere(s, r)
			}
		case "fence":
			if !roleMatches {
				return
			}
			banEverywhere(s, r)
			for _, n := range r.Running {
				s.fenceNode(n, "deadman ticket was lost")
			}
		case "freeze":
			if !roleMatches {
				return
			}
			r.Managed = false
			r.Blocked = true
		}
	case !rt.granted, rt.standby:
		if rt.role != RolePromoted || rt.lossPolicy == "stop" {
			banEverywhere(s, r)
		}
	}
}

// promotionTicketsMissing reports whether a promotable clone lacks a ticket
// it needs to promote.
func (r *Resource) promotionTicketsMissing() bool {
	for x := r; x != nil; x = x.Parent {
		for _, rt := range x.rscTickets {
			if rt.role == RolePromoted && (!rt.granted || rt.standby) {
				return true
			}
		}
	}
	return false
}
