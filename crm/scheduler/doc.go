// Package scheduler is a Pacemaker-compatible policy engine: a pure function
// from a CIB (configuration plus status) and a notion of "now" to a
// transition graph.
//
// Pipeline (one file or a few per stage):
//
//  1. unpack   – nodes.go, resources.go, history.go: cluster options, node
//     states (online, unclean, standby, maintenance, shutdown), the
//     resource tree with clone instances, and each resource's current state
//     derived from its operation history (roles, failures, fail counts).
//  2. score    – location.go, colocation.go: per-resource node scores from
//     location constraints and rules, stickiness, failure bans, tickets.
//  3. allocate – assign.go, clone.go, promotable.go: resources are assigned
//     in priority order; colocation primaries first, dependents' preferences
//     pulled in; clone instances are spread; promotable instances promoted.
//  4. actions  – actions.go, probes.go, fencing.go: start/stop/promote/
//     demote/migrate, probes for resources with no history on a node,
//     fencing of unclean nodes, shutdown of leaving nodes.
//  5. order    – ordering.go: constraint and implicit orderings between
//     actions; unrunnable actions propagate along mandatory orderings.
//  6. graph    – graph.go: synapses with inputs, serialised as Pacemaker's
//     transition_graph XML.
//
// Schedule does no I/O; tools/ringfence wires it to files.
package scheduler
