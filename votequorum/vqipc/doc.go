// Package vqipc is the IPC face of the quorum service (service 3,
// "quorum", libquorum) and of votequorum (service 5, "votequorum",
// libvotequorum) over the pure votequorum.Machine.
//
// It decodes the libraries' raw C requests, answers with the exact sizes
// they expect, and keeps the per-connection tracking state (track flags,
// library model V0/V1, tracker context). The quorum state the quorum
// service reports (quorate, view list, ring id) comes from the machine's
// QuorumEvents; the V1 nodelist notifications come from exec.QuorumSync.
//
// Wiring in the daemon's owner loop:
//
//	s := vqipc.New(machine, providerConfigured, engine.Send)
//	srv.Serve(s.Quorum.IPCService()); srv.Serve(s.Votequorum.IPCService())
//	... after srv.Dispatch, machine.Deliver*/Sync*/Tick: s.Flush()
//	... after each sync activation: s.NodelistChanges(quorumSync.Changes())
//
// Services.Flush owns machine.Ready(): exec messages go to the send
// function, QuorumEvents to the quorum service's trackers, notifications
// to the votequorum trackers (with each tracker's context), deferred
// QDEVICE_REGISTER replies to their clients, log lines to logrus. As in
// Corosync, TRACKSTART with CURRENT or CHANGES sends the current state as
// events before its response.
package vqipc
