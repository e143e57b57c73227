#!/bin/sh
# `make demo`: what Ringfence does today, in one short run, with no root.
#  1. check a corosync.conf the way `corosync -t` does and show the keys it
#     becomes (the cmap store every layer reads);
#  2. run a three-node Totem ring in the simulator: form, deliver in order,
#     lose a node, re-form, rejoin, with Corosync's operator notices;
#  3. schedule a small Pacemaker cluster whose node 3 died.
set -eu
cd "$(dirname "$0")/../.."
bin=bin
conf=tools/demo/corosync.conf

echo "== 1. corosync.conf: $bin/ringfenced -t -c $conf"
$bin/ringfenced -t -c $conf
echo
echo "   effective totem timing, as cmap keys (ringfenced --print-cmap):"
$bin/ringfenced -c $conf --print-cmap | grep -E '^runtime\.config\.totem\.(token|consensus|join|merge|token_retransmit) ' | sed 's/^/   /'
echo
echo "== 2. A three-node Totem ring (simulated network, virtual time)"
$bin/demo
echo
echo "== 3. Scheduling: node3 died while running 'web' ($bin/ringfence simulate -S)"
$bin/ringfence simulate -S -x tools/demo/cib.xml
