#!/bin/sh
# `make demo`: what Ringfence does today, in one short run, with no root.
#  1. check a corosync.conf the way `corosync -t` does and show the keys it
#     becomes (the cmap store every layer reads);
#  2. three real ringfenced runtimes, one process each, on loopback: the
#     ring forms, a node is SIGKILLed, the survivors re-form, it rejoins;
#  3. the same story in the deterministic simulator, with virtual-synchrony
#     checks and 300 ordered messages;
#  4. schedule a small Pacemaker cluster whose node 3 died.
set -eu
cd "$(dirname "$0")/../.."
bin=bin
conf=tools/demo/corosync.conf

echo "== 1. corosync.conf: $bin/ringfenced -t -c $conf"
$bin/ringfenced -t -c $conf
echo "   effective totem timing, as cmap keys (ringfenced --print-cmap):"
$bin/ringfenced -c $conf --print-cmap | grep -E '^runtime\.config\.totem\.(token|consensus|join|token_retransmit) ' | sed 's/^/   /'
echo
echo "== 2. A three-node ring of real processes on 127.0.0.1-3"
$bin/demo cluster
echo
echo "== 3. The same in the simulator (virtual time, invariants checked)"
$bin/demo
echo
echo "== 4. Scheduling: node3 died while running 'web' ($bin/ringfence simulate -S)"
$bin/ringfence simulate -S -x tools/demo/cib.xml
