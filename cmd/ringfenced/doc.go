// Command ringfenced is the Ringfence cluster engine daemon, a drop-in for
// corosync with corosync's command line: -f runs a node in the foreground
// (exec/node does the work; without -f it detaches), -t checks a
// corosync.conf (as corosync -t, and refusing the knet transport, which
// ringfenced does not speak, with exit status 8 as a start does),
// --print-cmap shows the cmap keys the file produces, -v prints the
// version.
package main
