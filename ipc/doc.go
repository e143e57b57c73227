// Package ipc is Ringfence's libqb-compatible IPC layer: the server side
// that lets Corosync's unmodified client libraries (libcmap, libcpg,
// libquorum, libvotequorum, libcfg) and Pacemaker talk to ringfenced, plus
// the shared-memory primitives the Go client in ipc/client reuses.
//
// It owns the byte-level protocol of libqb 2.0.x as Corosync 3.1.7 uses it:
// the per-service abstract AF_UNIX listening sockets (names NUL-padded to
// 108 bytes), the 24-byte connection request and 12328-byte response, the
// three shared-memory ring buffers per connection under /dev/shm with their
// glibc process-shared semaphores, the doorbell bytes on the setup socket,
// flow control, credentials and disconnect cleanup. The simpler socket
// connection type (datagrams) is available as an option for debugging. It
// knows nothing about
// what the messages mean: services register a Handler and get whole request
// messages, on one owner goroutine the daemon drives.
package ipc
