package node

import (
	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/totem/pg"
	"github.com/ringfence/ringfence/votequorum"
)

// Corosync 3.1.7 aborts (votequorum.c:2123, assert sender_node != NULL)
// when a quorum device NODEINFO arrives from a node it has never received
// a NODEINFO from. A node that has just joined a ring is in that state for
// every other node, and srp carries queued packets into the next ring: if
// our NODEINFO left in one packet and the device NODEINFO behind it in the
// next, a ring change between the two delivers the device half first, and
// alone, to the joiner. The votequorum machine always queues our own
// NODEINFO directly in front of a device NODEINFO; keeping the two in one
// totempg packet (which srp delivers whole, in one ring) makes the pair
// arrive together wherever it lands.

// devicePair reports whether a and b are our NODEINFO followed by the
// quorum device's.
func devicePair(a, b exec.Message, us uint32) bool {
	first, ok := nodeInfoOf(a)
	if !ok || first.NodeID != us {
		return false
	}
	second, ok := nodeInfoOf(b)
	return ok && second.NodeID == votequorum.QdeviceNodeID
}

func nodeInfoOf(m exec.Message) (votequorum.NodeInfo, bool) {
	if m.Group != exec.GroupServices || len(m.Iov) != 1 || len(m.Iov[0]) != votequorum.NodeInfoSize {
		return votequorum.NodeInfo{}, false
	}
	msg, err := votequorum.Decode(m.Iov[0], false)
	if err != nil {
		return votequorum.NodeInfo{}, false
	}
	ni, ok := msg.(votequorum.NodeInfo)
	return ni, ok
}

// fitsWhole reports whether messages of these sizes (exec payload bytes,
// one iovec each, in group "a") would all be staged whole in the packet
// the packer is filling. It follows Packer.pack's rule: an iovec is staged
// while its length plus the staged bytes stays below the room left (the
// packet minus the length table, one slot per message) minus 2.
func fitsWhole(p *pg.Packer, sizes ...int) bool {
	msgs, staged := p.Pending()
	hdr := groupHeaderSize
	for _, s := range sizes {
		staged += hdr + s
	}
	room := p.MTU() - pg.HeaderSize - 2*(msgs+len(sizes))
	return staged < room-2
}

// groupHeaderSize is the totempg group header of group "a": the group
// count, one length, the name.
const groupHeaderSize = 2 + 2 + len(exec.GroupServices)

// keepDevicePair sends what the packer holds when our NODEINFO and the
// device's (msgs[i], msgs[i+1]) would not both fit whole in its packet.
func (n *Node) keepDevicePair(msgs []exec.Message, i int) {
	if pairNeedsFlush(n.packer, msgs, i, n.settings.NodeID) {
		n.flushSync()
	}
}

func pairNeedsFlush(p *pg.Packer, msgs []exec.Message, i int, us uint32) bool {
	if i+1 >= len(msgs) || !devicePair(msgs[i], msgs[i+1], us) {
		return false
	}
	return !fitsWhole(p, len(msgs[i].Iov[0]), len(msgs[i+1].Iov[0]))
}
