package transport

import (
	"golang.org/x/sys/unix"
)

// setupOffload turns on GSO for SendBatch and GRO for the batched reader
// where the kernel has them, unless RINGFENCE_NO_GSO=1. GRO needs the
// batched reader (it splits what the kernel coalesced) and read buffers
// that hold a whole coalesced datagram.
func (u *UDPU) setupOffload() {
	u.gso.log = u.log
	if offloadDisabled() {
		u.log.Infof("%s=1: UDP segmentation offload and GRO off", noOffloadEnv)
		return
	}
	if err := probeGSO(u.raw); err != nil {
		u.log.WithError(err).Info("no UDP segmentation offload here: sending every datagram on its own")
	} else {
		mtu := u.cfg.NetMTU
		if ifi, err := interfaceWith(u.cfg.Local); err == nil {
			mtu = ifi.MTU
		}
		hdr := 20 + 8
		if u.cfg.Local.Is6() {
			hdr = 40 + 8
		}
		u.gso.maxSeg = mtu - hdr
		u.gso.on.Store(true)
	}
	if u.cfg.RecvBatch > 1 && u.cfg.ReadSize >= maxDatagram {
		var serr error
		if err := u.raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
		}); err == nil && serr == nil {
			u.gro = true
		}
	}
	u.log.Debugf("UDP segmentation offload %v (segments up to %d bytes), GRO %v", u.gso.enabled(), u.gso.maxSeg, u.gro)
}
