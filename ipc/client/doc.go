// Package client is the Go side of a libqb IPC connection, speaking the
// same protocol as Corosync's C client libraries (no cgo): connect to the
// padded abstract socket, handshake, map the three shared-memory rings,
// send requests with a doorbell byte, wait on the response ring's
// process-shared semaphore, and read events. Every Go tool of the project
// talks to ringfenced (or to a real corosync) through it.
package client
