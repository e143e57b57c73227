// Command ringfenced is the Ringfence cluster engine daemon, a drop-in for
// corosync with corosync's command line: -f runs a node in the foreground
// (exec/node does the work; without -f it detaches), -t checks a
// corosync.conf, --print-cmap shows the cmap keys the file produces, -v
// prints the version.
package main
