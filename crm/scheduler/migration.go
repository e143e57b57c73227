package scheduler

import "github.com/ringfence/ringfence/crm/cib"

// migrateToSuccess notes a successful migrate_to on the source node. If the
// target later completed migrate_from the migration finished; otherwise it
// is partial and the resource is considered active on both ends.
func (s *Scheduler) migrateToSuccess(r *Resource, src *Node, o *cib.LRMOp, lr *cib.LRMResource) {
	tgt := s.findNode(o.MigrateTarget)
	if tgt == nil {
		return
	}
	// a stop after the migrate_to on the source ends it
	for _, x := range lr.Ops {
		if x.CallID > o.CallID && (x.Operation == "stop" || x.Operation == "start") && x.RC == 0 {
			return
		}
	}
	r.Migrating = &migration{Source: src, Target: tgt, Partial: true}
}

func (s *Scheduler) migrateToFailure(r *Resource, src *Node, o *cib.LRMOp, lr *cib.LRMResource) {
}

func (s *Scheduler) migrateFromFailure(r *Resource, tgt *Node, o *cib.LRMOp, lr *cib.LRMResource) {
}
