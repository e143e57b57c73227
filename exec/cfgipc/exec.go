package cfgipc

import (
	"encoding/binary"
	"fmt"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/ipc"
)

// Exec message ids of the cfg service (enum req_exec_cfg_types).
const (
	ExecRingReenable  = 0
	ExecKillNode      = 1
	ExecShutdown      = 2
	ExecReloadConfig  = 3
	ExecCryptoReconf  = 4
	execHandlerCount  = 5
	execHeaderSize    = 16
	execKillNodeSize  = 288 // header, nodeid (aligned 8), mar_name_t (length aligned 8, value aligned 8)
	execKillLenOff    = 24
	execKillValueOff  = 32
	execReloadSize    = 32 // header, mar_message_source_t {nodeid, conn}
	execReloadConnOff = 24
)

// ID implements exec.Service: cfg is service 1.
func (h *Handler) ID() exec.ServiceID { return ServiceID }

// Name implements exec.Service (Corosync's engine name).
func (h *Handler) Name() string { return "corosync configuration service" }

// ExecCount implements exec.Service.
func (h *Handler) ExecCount() int { return execHandlerCount }

// send multicasts one exec message; without a Send function (tests of
// the IPC face alone) the message loops back to this node at once, as a
// single-node ring would deliver it.
func (h *Handler) send(fn uint16, msg []byte) {
	exec.PutHeader(msg, exec.Header{ID: exec.MakeID(ServiceID, fn), Size: int32(len(msg))})
	if h.cfg.Send == nil {
		if err := h.Deliver(h.cfg.NodeID, fn, msg, false); err != nil {
			h.log.WithError(err).Warn("loopback cfg message dropped")
		}
		return
	}
	h.cfg.Send(exec.ServiceMessage(msg))
}

// Deliver implements exec.Service: cfg exec messages in agreed order,
// from any node of the ring (Corosync nodes included).
func (h *Handler) Deliver(from uint32, fn uint16, msg []byte, swapped bool) error {
	order := binary.ByteOrder(binary.LittleEndian)
	if swapped {
		order = binary.BigEndian
	}
	switch fn {
	case ExecRingReenable:
		return nil
	case ExecKillNode:
		if len(msg) < execKillNodeSize {
			return fmt.Errorf("cfg killnode: %d bytes, want %d", len(msg), execKillNodeSize)
		}
		target := order.Uint32(msg[16:])
		h.log.Debugf("request to kill node %d (us=%d)", target, h.cfg.NodeID)
		if target != h.cfg.NodeID {
			return nil
		}
		n := int(order.Uint16(msg[execKillLenOff:]))
		reason := cString(msg[execKillValueOff : execKillValueOff+min(n, killReasonMax)])
		h.log.Infof("Killed by node %d : %s", from, reason)
		if h.cfg.Killed != nil {
			h.cfg.Killed(from, reason)
		}
	case ExecShutdown:
		h.log.Infof("Node %d was shut down by sysadmin", from)
		if from == h.cfg.NodeID && h.cfg.Shutdown != nil {
			h.cfg.Shutdown(h.lastShutdownFlags)
		}
	case ExecReloadConfig:
		if len(msg) < execReloadSize {
			return fmt.Errorf("cfg reload_config: %d bytes, want %d", len(msg), execReloadSize)
		}
		h.log.Infof("Config reload requested by node %d", from)
		res := call0(h.cfg.ReloadConfig)
		if from != h.cfg.NodeID {
			return nil
		}
		// The source conn is our own token: only this node reads it.
		token := binary.LittleEndian.Uint64(msg[execReloadConnOff:])
		if reply, ok := h.reloads[token]; ok {
			delete(h.reloads, token)
			reply(response(ResReloadConfig, 24, res))
		}
	case ExecCryptoReconf:
		// Only knet changes crypto at run time; udp/udpu have none.
		return nil
	}
	return nil
}

// killNode checks that nodeid is a joined member (runtime.members, as
// Corosync reads it) and multicasts the request; the target exits when it
// is delivered.
func (h *Handler) killNode(nodeid uint32, rawReason []byte) ipc.CsError {
	if h.cfg.Store == nil {
		return ipc.CsErrNotExist
	}
	status, err := h.cfg.Store.GetString(fmt.Sprintf("runtime.members.%d.status", nodeid))
	if err != nil || status != "joined" {
		return ipc.CsErrNotExist
	}
	msg := make([]byte, execKillNodeSize)
	binary.LittleEndian.PutUint32(msg[16:], nodeid)
	n := int(binary.LittleEndian.Uint16(rawReason))
	if n > killReasonMax {
		n = killReasonMax
	}
	binary.LittleEndian.PutUint16(msg[execKillLenOff:], uint16(n))
	copy(msg[execKillValueOff:], rawReason[2:2+n])
	h.send(ExecKillNode, msg)
	return ipc.CsOK
}

// reloadConfig multicasts RELOAD_CONFIG; the answer goes out when this
// node delivers its own message, after every node has reloaded in the
// same agreed order.
func (h *Handler) reloadConfig(reply func([]byte)) {
	h.nextReload++
	token := h.nextReload
	h.reloads[token] = reply
	msg := make([]byte, execReloadSize)
	binary.LittleEndian.PutUint32(msg[16:], h.cfg.NodeID)
	binary.LittleEndian.PutUint64(msg[execReloadConnOff:], token)
	h.send(ExecReloadConfig, msg)
}

// sendShutdown tells the ring that this node goes down (every node logs
// it; this node leaves when its own message is delivered).
func (h *Handler) sendShutdown(flags uint32) {
	h.lastShutdownFlags = flags
	h.send(ExecShutdown, make([]byte, execHeaderSize))
}
