package node

import (
	"github.com/ringfence/ringfence/cpg/cpgipc"
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/totem/srp"
)

// Traffic around a membership change and a full send queue.
//
// srp keeps two send queues: the new-message queue, and while it waits for
// the sync to finish (TransAck) a trans queue that goes out first. The
// packer splits big messages over packets, so a message must never have
// fragments in both queues: the later fragments would leave first and
// every receiver would throw the message away. Three rules keep the
// chains whole, and keep one sender's messages in the order it sent them:
//
//   - what the packer holds when a configuration change arrives was packed
//     before it and goes behind the sync (BroadcastAfterSync), after the
//     earlier fragments already queued there;
//   - during the sync only the sync and the services' own messages are
//     packed; application traffic (Node.Multicast, CPG requests from IPC
//     clients) waits, as Corosync answers it CS_ERR_TRY_AGAIN meanwhile;
//   - when the sync completes the packer is flushed into the trans queue
//     before TransAck, and then the held traffic is sent.
//
// The same holding gives IPC clients flow control: when srp's queue cannot
// take one more maximal request, the loop stops reading IPC requests, the
// clients' request rings fill and libqb answers them CS_ERR_TRY_AGAIN
// instead of our dropping their messages.

const (
	// ipcHeadroom is how many free srp queue entries one IPC request may
	// need: a 1 MiB CPG message in packets of at least 1 KiB, plus slack.
	ipcHeadroom = 1<<20/1024 + 16
	// maxHeldIPC bounds the requests parked during a sync; past it the
	// loop stops reading IPC until the sync ends.
	maxHeldIPC = 4096
)

// ipcSource is the channel the loop reads IPC requests from this round:
// nil (never ready) while the send queue lacks headroom or too many
// requests are parked.
func (n *Node) ipcSource() <-chan ipc.Delivery {
	if n.ipcSrv == nil || len(n.heldIPC) >= maxHeldIPC || n.srp.Avail() < ipcHeadroom {
		return nil
	}
	return n.ipcSrv.Deliveries()
}

// syncing reports whether srp holds new traffic until the sync finishes.
func (n *Node) syncing() bool { return n.srp.WaitingTransAck() }

// dispatchIPC hands one IPC delivery to its service, or parks it while a
// sync runs if it belongs to CPG (whose requests send application
// traffic). Once one CPG delivery is parked, the later ones queue behind
// it, so each connection's requests keep their order.
func (n *Node) dispatchIPC(d ipc.Delivery) {
	if d.Conn != nil && d.Conn.Service() != nil && d.Conn.Service().Name == n.opts.IPCPrefix+cpgipc.ServiceName &&
		(n.syncing() || len(n.heldIPC) > 0) {
		n.heldIPC = append(n.heldIPC, d)
		return
	}
	n.ipcSrv.Dispatch(d)
}

// sendApp sends application traffic now, or after the running sync.
func (n *Node) sendApp(m exec.Message) error {
	if n.syncing() || len(n.heldApp) > 0 {
		n.heldApp = append(n.heldApp, m)
		return nil
	}
	return n.send(m)
}

// flushBehindSync moves what the packer holds at a configuration change
// behind the sync (see the rules above).
func (n *Node) flushBehindSync() {
	if msgs, _ := n.packer.Pending(); msgs == 0 {
		return
	}
	for _, p := range n.packer.Flush(nil) {
		if err := n.srp.BroadcastAfterSync(p.Payload, srp.Guarantee(p.Guarantee)); err != nil {
			n.log.WithField("subsys", SubsysTotem).WithError(err).Warn("cannot queue a packet for the ring")
			return
		}
	}
}

// flushSync empties the packer into the queue srp sends now, ignoring the
// token-visit hold of flush: it runs just before TransAck, so that the
// sync's last messages stay ahead of everything queued behind the sync.
func (n *Node) flushSync() {
	if msgs, _ := n.packer.Pending(); msgs == 0 {
		return
	}
	if err := n.broadcast(n.packer.Flush(nil)); err != nil {
		n.log.WithField("subsys", SubsysTotem).WithError(err).Warn("cannot queue a packet for the ring")
	}
}

// releaseHeld sends the application traffic and dispatches the CPG
// requests parked during the sync, in arrival order.
func (n *Node) releaseHeld() {
	app, reqs := n.heldApp, n.heldIPC
	n.heldApp, n.heldIPC = nil, nil
	for _, m := range app {
		if err := n.send(m); err != nil {
			n.log.WithField("subsys", SubsysMain).WithError(err).Warn("cannot queue a message for the ring")
		}
	}
	for _, d := range reqs {
		n.ipcSrv.Dispatch(d)
	}
}
