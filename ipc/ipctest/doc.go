// Package ipctest is test support for the IPC service packages (cmapsvc,
// cpgipc, vqipc, cfgipc): it runs the test binary itself as an IPC server
// inside a throw-away network namespace, so that Debian's tools and C
// client libraries, which find a service by its abstract socket name,
// talk to that server and to nothing else on the machine. Abstract unix
// sockets are per network namespace; that is the whole trick.
//
// The test binary's TestMain turns into the server when the package's
// helper variable says so, prints READY once it serves, and runs until
// its stdin closes; Start waits for READY and stops the server (and
// removes the namespace) when the test ends.
package ipctest
