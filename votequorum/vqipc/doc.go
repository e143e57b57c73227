// Package vqipc is the IPC face of the quorum service (service 3,
// "quorum", libquorum) and of votequorum (service 5, "votequorum",
// libvotequorum) over the pure votequorum.Machine.
//
// It decodes the libraries' raw C requests, answers with the exact sizes
// they expect, and keeps the per-connection tracking state (track flags,
// library model V0/V1, tracker context). The quorum state the quorum
// service reports (quorate, view list, ring id) comes from the machine's
// QuorumEvents; the V1 nodelist notifications come from exec.QuorumSync.
// Services.Flush drains the machine's Ready output: exec messages go to
// the daemon's send function, notifications to the trackers, deferred
// qdevice registration replies to their clients, log lines to logrus.
package vqipc
