// Package cmapsvc serves the Corosync "cmap" IPC service (service id 0)
// over a cmap.Store: the ten requests of libcmap (set, delete, get,
// adjust_int, iteration, tracking, map selection) and the tracking
// notifications. It also provides Corosync's IPC access rule (root, or
// uidgid.* keys). It lives here until the exec layer's service registry
// takes it over.
package cmapsvc
