// Package exectest holds test helpers shared by exec, cpg and the other
// services: reading the exec and sync messages out of real Corosync
// captures, and an in-memory "agreed order" bus on which several exec
// engines run the sync protocol and exchange service messages.
//
// It is test support only; the daemon never imports it.
package exectest
