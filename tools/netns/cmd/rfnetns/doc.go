// Command rfnetns runs cluster daemons in throwaway network namespaces.
//
//	rfnetns failover [-nodes 3,16] [-token 1000] [-daemon "corosync"]
//	    measures formation and failover times (see netns.Failover) and
//	    prints one line per size, or JSON with -json.
//	rfnetns shell [-nodes 3] [-daemon ...]
//	    forms a ring, prints how to reach each host, and waits for ^C;
//	    everything is removed on exit.
//
// The daemon is started as DAEMON -f -c CONF, so "-daemon bin/ringfenced"
// measures Ringfence the same way as Corosync. Needs root.
package main
