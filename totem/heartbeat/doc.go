// Package heartbeat owns Ringfence's link-level failure detector: probes
// between ringfenced members, answered by the kernel (an XDP program built
// with cilium/ebpf's asm package, or the same program at TC ingress on an
// interface whose XDP hook another program holds) or, where BPF is not
// available, by a userspace responder with the same rules.
//
// The engine takes several links (Config.Links) and reports a peer only
// when it is silent on all of them. The daemon runs Corosync's udp and
// udpu transports, which allow one interface (Corosync refuses a second
// with "too many configured interfaces for non-Knet transport"), so in
// practice there is one link, link 0, and "unreachable on every link"
// means "unreachable on link 0".
//
// Two questions are kept apart. "Is the host and its link alive" is
// answered fast, by probes every Interval on their own UDP port (the
// totem port + 2 unless configured, see Config.Port). "Is the daemon
// alive" stays with the token. The responder answers only while the
// daemon's liveness stamp is fresh (younger than Config.Grace, the token
// timeout), so a hung daemon stops looking alive after its own timeout,
// and a daemon stalled for less than that is not taken for dead.
//
// Without BPF (heartbeat: userspace, or no CAP_BPF) the kernel's part
// is played by a responder process (child.go, spawn.go): the daemon
// re-executes its own binary, which must call ResponderMain first in
// main, and hands it the heartbeat sockets and a shared memory (shm.go)
// holding the stamp, the grace and the records the XDP maps would hold.
// It answers by the same rule, so a stopped or stalled daemon is
// answered for until its stamp is older than the grace, and it dies with
// the daemon (PR_SET_PDEATHSIG and the EOF of a socketpair), so a killed
// daemon is not answered for at all. The daemon keeps sending the probes
// itself. Where the process cannot start (a binary without the hook, the
// memory sockets of tests) or dies, the daemon answers in its own
// process, and Mode says which runs.
//
// Engine.Stamp, called on every turn of the daemon's event loop, refreshes
// the stamp. Engine.Tick, every Interval on a goroutine of its own (so the
// probes cost no event-loop wake-ups), sends probes and reports each peer
// that was answering and has now been silent on every link for Misses
// probe intervals. Up to 7 members every pair is watched; in larger rings
// each node is watched by its Watchers (3) predecessors on the nodeid
// circle and watches its 3 successors, since one report suffices (srp's
// join carries it to every survivor) and probing every pair costs n(n-1)/2
// probes per interval. The circle holds the peers that run the heartbeat:
// one that stays silent through the first probes (Corosync in a mixed
// ring) leaves it, so a ringfenced node between Corosync nodes is still
// watched by the nearest ringfenced ones. While a membership change is
// under way (Engine.SetWide) every peer is probed and judged, so that
// after a partition every lost node reaches the failed list within the
// miss window. Each watched pair has one prober: the answers are its
// evidence, the probes the other side's, and a side whose evidence stops
// probes at once itself, so a stalled prober whose kernel still answers is
// not taken for dead. A node whose own stamp is stale sends no probes.
// Peers that never answered or probed (not ringfenced, e.g. Corosync in a
// mixed ring) are never reported. Totem traffic overrules the probes: a
// peer whose datagrams reach the daemon (Engine.Heard) within the last
// Misses-1 intervals is not reported, so a node restarted within the miss
// window is not thrown out again and a blocked heartbeat port (warned
// about) does not break a healthy ring. Per peer and link it keeps RTT,
// loss and last-seen figures (Engine.Links) for `ringfence netmon` and
// cmap.
//
// Wire format (UDP payload, 28 bytes, big endian):
//
//	0  "RFHB"   magic
//	4  1        version
//	5  type     1 probe, 2 answer
//	6  link     link (ring) number of the path it travels
//	7  flags    answers: 1 = answered by the kernel
//	8  from     nodeid of the sender of this packet
//	12 to       nodeid it is meant for
//	16 seq      probe sequence number, echoed
//	20 stamp    prober's CLOCK_MONOTONIC ns, echoed (RTT)
package heartbeat
