// Package cmap is Ringfence's configuration and runtime key/value store,
// the equivalent of Corosync's icmap.
//
// It owns the typed values (the twelve Corosync value types), key name
// rules, read-only keys, change tracking and the corosync-cmapctl text
// format. It knows nothing about IPC or totem: the cmap IPC service and the
// cmap sync exchange are built on top of it elsewhere. Corosync keeps two
// maps (the default icmap and the "stats" map); here each is simply its own
// Store.
package cmap
