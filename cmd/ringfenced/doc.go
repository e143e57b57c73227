// Command ringfenced is the Ringfence cluster engine daemon, a drop-in for
// corosync. For now it only has the configuration part of corosync's
// command line: -t checks a corosync.conf, --print-cmap shows the cmap keys
// the file produces, -v prints the version. The daemon loop (run) comes
// with a later change.
package main
