#!/bin/sh
# Records what Debian's corosync 3.1.7 says about every *.conf here:
#   NAME.verdict  exit code of `corosync -t -c NAME.conf` and its output
#                 (timestamps removed)
#   NAME.golden   for accepted files: corosync-cmapctl of a corosync really
#                 started on that file, filtered by golden_filter below
# Needs root, iproute2 and corosync. Everything runs in a private network
# namespace (veth with 198.18.0.1/24 and 198.18.1.1/24, lo up) and a private
# mount and UTS namespace (host name "rfhost", tmpfs on /run,
# /var/lib/corosync, /var/log/corosync and /etc/corosync so no authkey of
# the host is seen), so the host is not touched.
# Usage: sh record.sh [NAME.conf ...]   (run from anywhere)
# RECORD_OUT=DIR writes the results to DIR instead of beside the files (the
# live Go test uses this to compare the installed corosync with our parser).
# RECORD_IN=DIR reads the *.conf files from DIR; RECORD_VERDICT_ONLY=1 skips
# starting corosync (only `corosync -t` verdicts).
set -u
cd "${RECORD_IN:-$(dirname "$0")}"
OUT=${RECORD_OUT:-.}
[ "$(id -u)" = 0 ] || { echo "record.sh: needs root" >&2; exit 1; }
command -v corosync >/dev/null || { echo "record.sh: corosync not installed" >&2; exit 1; }

NS="rfconf-rec-$$"
cleanup() {
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" addr add 198.18.0.1/24 dev v0
ip -n "$NS" addr add 198.18.1.1/24 dev v0
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up

# stop_all ends every process left in the namespace (the corosync we
# started: the pid of a backgrounded shell function is not corosync's).
stop_all() {
	for p in $(ip netns pids "$NS"); do kill "$p" 2>/dev/null; done
	i=0
	while [ -n "$(ip netns pids "$NS")" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	for p in $(ip netns pids "$NS"); do kill -9 "$p" 2>/dev/null; done
}

# in_ns CMD: run CMD (a corosync command line) in the sandbox.
in_ns() {
	ip netns exec "$NS" unshare -m -u sh -c '
		hostname rfhost
		mount -t tmpfs none /run
		mount -t tmpfs none /var/lib/corosync
		mount -t tmpfs none /var/log/corosync
		mount -t tmpfs none /etc/corosync
		exec "$@"' sh "$@"
}

# Keys that belong to running services or to this particular run, not to
# the configuration: membership, per-service counters, votequorum state,
# blackbox/force_gather triggers, loaded service list, the mon/wd
# resources, runtime IPC ACLs.
golden_filter() {
	grep -v -E '^(runtime\.members\.|runtime\.services\.|runtime\.votequorum\.|runtime\.blackbox\.|runtime\.force_gather |internal_configuration\.|resources\.|uidgid\.(uid|gid)\.)'
}

strip_time() { sed -E 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:.]+ +//'; }

files="$*"
[ -n "$files" ] || files=$(ls *.conf)
for f in $files; do
	name=${f%.conf}
	out=$(in_ns corosync -t -c "$f" 2>&1)
	rc=$?
	{ echo "exit $rc"; printf '%s\n' "$out" | strip_time; } > "$OUT/$name.verdict"
	rm -f "$OUT/$name.golden"
	if [ $rc -eq 0 ] && [ -z "${RECORD_VERDICT_ONLY:-}" ]; then
		in_ns corosync -f -c "$f" > /dev/null 2>&1 &
		pid=$!
		i=0
		while [ $i -lt 50 ]; do
			if ip netns exec "$NS" corosync-cmapctl > /dev/null 2>&1; then break; fi
			sleep 0.2; i=$((i + 1))
		done
		sleep 1 # let services finish writing their start-up keys
		ip netns exec "$NS" corosync-cmapctl 2>/dev/null | golden_filter > "$OUT/$name.golden"
		stop_all
		wait "$pid" 2>/dev/null
		[ -s "$OUT/$name.golden" ] || echo "record.sh: $f: corosync did not come up" >&2
	fi
	echo "$f: exit $rc"
done
