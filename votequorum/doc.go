// Package votequorum is Corosync 3.1's vote quorum service as a pure,
// deterministic state machine, plus its four exec messages on the wire.
//
// It owns the quorum decision of one node: the node table (every node ever
// seen, with its votes, expected votes, NODEINFO flags and state
// member/dead/leaving, and pseudo node 0 for a quorum device), the quorum
// arithmetic (majority of the larger of highest expected votes and votes
// present) and its special modes: two_node, wait_for_all,
// last_man_standing, auto_tie_breaker (lowest, highest, list),
// allow_downscale, expected_votes_tracking, and quorum devices with
// master_wins. Behaviour follows exec/votequorum.c of Corosync 3.1.7,
// including its quirks (documented where they happen).
//
// There are no goroutines, sockets, timers or clocks here. The driver (the
// daemon's event loop, or the simulator) feeds inputs and carries out the
// output:
//
//	m, err := votequorum.New(cfg, now)    // startup; err is corosync's config verdict
//	m.SyncInit(trans, members, ringID)    // after each REGULAR membership
//	wait := m.SyncProcess()               // multicast Ready().Messages; barrier when !wait
//	m.SyncActivate()                      // when every member passed the barrier
//	m.Deliver(sender, msg)                // each delivered votequorum exec message
//	m.Tick(now)                           // time; fires LMS window and qdevice timeouts
//	m.SetExpected(n), m.SetVotes(id, v), m.Qdevice*(...), m.CancelWaitForAll(), m.Leave()
//	r := m.Ready()                        // messages, quorum events, notifications, log lines
//
// Messages queued by the machine take effect on every node, this one
// included, only when totem delivers them back in agreed order. Commands
// return corosync's cs_error_t (Status) as the IPC layer must answer;
// QdeviceRegister answers later, through Ready.RegisterReplies.
//
// Read-only views: GetInfo (GETINFO), QuorumNotification and
// NodelistNotification (a tracker's initial state), RuntimeKeys
// (runtime.votequorum.* cmap keys), Info.VotequorumBlock (the
// corosync-quorumtool block), MembersLogLines. The quorum service
// (service 3) is driven by Ready.QuorumEvents; the machine also emits the
// quorum service's operator log lines ("Members[3]: 1 2 3", "This node is
// within the primary component and will provide service.") so that service
// must not print them again.
//
// For the simulator, CheckSplitBrain checks that no two nodes with disjoint
// memberships are quorate at once (nodes in the middle of a sync are not
// judged). Corosync itself only keeps that promise for plain majority,
// weighted votes and wait_for_all: two_node allows it by design, and
// auto_tie_breaker and last_man_standing allow it after some sequences of
// partitions (testdata/atb_hazard.txt, lms_hazard.txt; the ATB case was
// reproduced on real corosync 3.1.7 by live_test.go). The simulator must
// exempt those modes.
//
// Wire: Decode and the Encode methods handle the packed, 8-aligned C
// structs (16-byte exec header with id 5<<16|fn and size, fields at fixed
// offsets, zeroed padding when we send, ignored padding when we read) and
// the byte swapping for a sender of the other endianness.
//
// Tests: scenario files in testdata/*.txt (language in scenario_test.go)
// run a small cluster of machines over an ideal totem; property_test.go
// runs random partitions and checks CheckSplitBrain; live_test.go (root,
// Debian's corosync) plays scenarios on real corosync 3.1.7 daemons in
// network namespaces and compares corosync-quorumtool -s with the model
// after every step; wire_test.go checks the codec against the
// udpu-2node-join capture.
package votequorum
