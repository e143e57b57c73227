package node

import "github.com/ringfence/ringfence/totem/transport"

// loopEvent is what woke Run's loop.
type loopEvent int

const (
	evNone loopEvent = iota // a timer, a tick or a wake: just settle
	evDone
	evRecv
	evIPC
	evCall
	evRetry
	evHeartbeat
	evStats
)

// startDirectReceive lets a transport that can (udpu) hand received
// batches to receiveBatch on its reader goroutine instead of queueing
// them for the loop: one goroutine does the work a datagram causes, as
// corosync's one thread does, without waking a second one per batch.
// Called with owner held.
func (n *Node) startDirectReceive() {
	dr, ok := n.tr.(transport.DirectReceiver)
	if !ok {
		return
	}
	n.wake = make(chan struct{}, 1)
	dr.ReceiveFunc(n.receiveBatch)
}

// receiveBatch processes datagrams on the transport's reader goroutine.
// The batch's buffers are reused once it returns: decode reads them in
// place and srp copies what it keeps.
func (n *Node) receiveBatch(batch []transport.Datagram) {
	n.owner.Lock()
	defer n.owner.Unlock()
	if n.exited {
		return
	}
	// What was queued before the switch is older: it goes first.
	n.drainRecv(-1)
	n.srp.Tick(n.now())
	for _, dg := range batch {
		n.receive(dg)
	}
	n.settle()
	// The loop waits on a set of channels chosen before it let go of the
	// state: when that choice is stale, or it has to stop, wake it.
	if n.shutdown || n.failure != nil || (n.ipcSource() != nil) != n.loopIPC {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

// drainRecv processes up to max datagrams already queued on Recv (all
// with max < 0) without waiting.
func (n *Node) drainRecv(max int) {
	recv := n.tr.Recv()
	for i := 0; max < 0 || i < max; i++ {
		select {
		case dg, ok := <-recv:
			if !ok {
				return
			}
			n.receive(dg)
		default:
			return
		}
	}
}
