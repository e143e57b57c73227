#!/usr/bin/env bash
# Re-make the *.pydecode goldens: one line per totem datagram of each pcap
# here, as decoded by the independent Python decoder written during the
# protocol research (research/corosync-pcaps/totem_decode.py), fed by
# tshark. totem/wire's TestPythonCrossCheck renders its own decode in the
# same format and demands identical lines, so two decoders written apart
# have to agree on every field of every captured datagram.
#
# usage: testdata/wire/pydecode.sh PATH/TO/totem_decode.py
set -euo pipefail
decoder=${1:?usage: pydecode.sh PATH/TO/totem_decode.py}
cd "$(dirname "$0")"
# The decoder's totempg part trips over continuation fragments that do not
# start with a group header; only its totem header lines are wanted here,
# so that part is switched off (loudly, should the decoder change shape).
run_header_lines='
import sys
path = sys.argv.pop(1)
src = open(path).read()
hook = "for x in dec_pg(p): print(x)"
if hook not in src:
    sys.exit("decoder changed: cannot find its totempg printing line")
exec(compile(src.replace(hook, "pass"), path, "exec"))
'

for pcap in *.pcap recovery/*.pcap; do
	tshark -r "$pcap" -Y 'udp.dstport==5405' -T fields \
		-e frame.number -e ip.src -e udp.srcport -e ip.dst -e udp.payload 2>/dev/null |
		python3 -c "$run_header_lines" "$decoder" /dev/stdin | grep '^#' >"${pcap%.pcap}.pydecode"
done
wc -l ./*.pydecode recovery/*.pydecode
