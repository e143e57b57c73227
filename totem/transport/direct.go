package transport

import "sync/atomic"

// DirectReceiver is implemented by transports whose reader can hand each
// batch of received datagrams straight to the protocol instead of queueing
// them on Recv's channel.
//
// On a busy ring the channel costs a goroutine hand-off per batch: the
// reader wakes from the netpoller, queues, and the protocol goroutine has
// to be woken in turn (futex calls and scheduler work that, with many
// daemons on few cores, cost more than the protocol itself). Called
// directly, the reader goroutine does the protocol work under the caller's
// own serialisation, the way corosync's single thread goes from poll to
// recvmsg to processing, and the read buffers are reused instead of copied.
type DirectReceiver interface {
	// ReceiveFunc makes the reader call fn with every batch it reads, in
	// arrival order, instead of queueing the datagrams on Recv. A batch
	// and its Data are only valid until fn returns: fn copies what it
	// keeps. Datagrams queued before the call stay on Recv, so the caller
	// drains Recv first. Several readers (udp has two sockets) may call fn
	// concurrently; fn serialises them. Close waits for a running fn, so
	// fn must not wait for anything Close's caller holds.
	ReceiveFunc(fn func(batch []Datagram))
}

// directFunc is the receive function a reader calls when set.
type directFunc struct {
	p atomic.Pointer[func(batch []Datagram)]
}

func (d *directFunc) set(fn func(batch []Datagram)) { d.p.Store(&fn) }

func (d *directFunc) get() func(batch []Datagram) {
	if p := d.p.Load(); p != nil {
		return *p
	}
	return nil
}
