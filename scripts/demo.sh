#!/bin/sh
# mcferry demo: two multicast islands that the network between them does
# not route multicast for, joined by the seed's relay chain.
#
#   island A (netns)            router (netns)              island B (netns)
#   mcsend -> 239.1.1.1:1600    splitter                    mcferry -> 239.1.1.1:1600
#   mcferry udp -> tcp  ------> tcp://@:1602 -> tcp://@:1603 ----> mcrecv (counts)
#   10.77.1.2 ========= 10.77.1.1          10.77.2.1 ========= 10.77.2.2
#
# Then three islands exchange streams through a hub, each island both
# sending and receiving on one group:
#
#   island A --- gateway ---\
#   island B --- gateway ----+--- hub (router R)
#   island C --- gateway ---/
#
# Without root the seed chain runs on loopback and the hub part is skipped.
# Everything it starts it stops, and it removes its namespaces, within a
# minute.
set -eu
BUILD=${1:-build}
BIN=$(cd "$BUILD" && pwd)
MCF=$BIN/mcferry
SEND=$BIN/tests/tools/mcsend
RECV=$BIN/tests/tools/mcrecv
RATE=${DEMO_RATE:-2000}
SECS=${DEMO_SECONDS:-8}
COUNT=$((RATE * SECS))
P=mfdemo$$
TMP=$(mktemp -d)
PIDS=""

cleanup() {
	for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
	if [ "$(id -u)" = 0 ]; then
		for ns in A R B C; do ip netns del "$P$ns" 2>/dev/null || true; done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

bg() { # bg NAME CMD... : start CMD in the background, log to $TMP/NAME.log
	name=$1; shift
	"$@" >"$TMP/$name.log" 2>&1 &
	PIDS="$PIDS $!"
}

wait_for() { # wait_for FILE PATTERN: up to 10 s
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1; }
		sleep 0.1
	done
}

if [ "$(id -u)" = 0 ]; then
	echo "== building three namespaces: island A, router R, island B"
	for ns in A R B; do ip netns add "$P$ns"; ip -n "$P$ns" link set lo up; done
	ip link add "${P}a" netns "${P}A" type veth peer name "${P}ra" netns "${P}R"
	ip link add "${P}b" netns "${P}B" type veth peer name "${P}rb" netns "${P}R"
	ip -n "${P}A" addr add 10.77.1.2/24 dev "${P}a"
	ip -n "${P}R" addr add 10.77.1.1/24 dev "${P}ra"
	ip -n "${P}B" addr add 10.77.2.2/24 dev "${P}b"
	ip -n "${P}R" addr add 10.77.2.1/24 dev "${P}rb"
	for l in "A ${P}a" "R ${P}ra" "R ${P}rb" "B ${P}b"; do
		set -- $l; ip -n "$P$1" link set "$2" up
	done
	ip -n "${P}A" route add default via 10.77.1.1
	ip -n "${P}B" route add default via 10.77.2.1
	ip netns exec "${P}R" sysctl -qw net.ipv4.ip_forward=1
	ip -n "${P}A" route add 224.0.0.0/4 dev "${P}a"
	ip -n "${P}B" route add 224.0.0.0/4 dev "${P}b"
	INA="ip netns exec ${P}A"; INR="ip netns exec ${P}R"; INB="ip netns exec ${P}B"
	SPLIT=10.77.1.1; SPLIT_B=10.77.2.1; IFA=${P}a; IFB=${P}b; GROUP_B=239.1.1.1
else
	echo "== not root: running the chain on loopback instead of namespaces"
	INA=""; INR=""; INB=""
	SPLIT=127.0.0.1; SPLIT_B=127.0.0.1; IFA=lo; IFB=lo; GROUP_B=239.1.1.2
fi

echo "== starting the splitter (router), then island B's and island A's relays"
bg splitter $INR "$MCF" relay --stats 1 tcp://@:1602 tcp://@:1603
wait_for "$TMP/splitter.log" ready
bg relayB $INB "$MCF" relay --stats 1 "tcp://$SPLIT_B:1603" "udp://$GROUP_B:1600?iface=$IFB"
bg relayA $INA "$MCF" relay --stats 1 "udp://@239.1.1.1:1600?iface=$IFA" "tcp://$SPLIT:1602"
wait_for "$TMP/relayB.log" "upstream connected"
wait_for "$TMP/relayA.log" "upstream connected"
bg recv $INB "$RECV" udp "$GROUP_B:1600" --iface "$IFB" --ready-file "$TMP/recv.ready" \
	--expect "$COUNT" --count "$COUNT" --idle 3 --duration $((SECS + 15)) --json
RECVPID=${PIDS##* }
i=0; until [ -e "$TMP/recv.ready" ]; do i=$((i + 1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done

echo "== island A sends $COUNT datagrams of 1316 bytes at $RATE/s to 239.1.1.1:1600"
echo "   (multicast does not cross the router: only mcferry carries it)"
bg send $INA "$SEND" --count "$COUNT" --rate "$RATE" --size 1316 --iface "$IFA" 239.1.1.1:1600
SENDPID=${PIDS##* }
t=0
while kill -0 "$SENDPID" 2>/dev/null && [ $t -lt $((SECS + 10)) ]; do
	sleep 1; t=$((t + 1))
	# log lines start with a timestamp; counters have their registry names
	a=$(grep ' stats ' "$TMP/relayA.log" | tail -1 | grep -o 'in_datagrams_total=[0-9]*' | sed 's/_total//')
	s=$(grep ' stats ' "$TMP/splitter.log" | tail -1 | grep -o 'out_datagrams_total=[0-9]*' | sed 's/_total//')
	b=$(grep ' stats ' "$TMP/relayB.log" | tail -1 | grep -o 'out_datagrams_total=[0-9]*' | sed 's/_total//')
	printf '   t=%2ds  island A relay %-18s  splitter %-18s  island B relay %s\n' \
		"$t" "${a:-?}" "${s:-?}" "${b:-?}"
done
wait "$RECVPID" 2>/dev/null || true
echo "== island B receiver:"
cat "$TMP/recv.log"
echo
echo "== sender: $(cat "$TMP/send.log")"
if grep -q "\"unique\": *$COUNT," "$TMP/recv.log" && grep -q '"duplicates": *0,' "$TMP/recv.log"; then
	echo "== every datagram crossed once."
else
	echo "== the receiver did not get every datagram exactly once (see above)."
	exit 1
fi
for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
PIDS=""
[ "$(id -u)" = 0 ] || exit 0

echo
echo "== part 2: three islands, one hub. Adding island C."
ip netns add "${P}C"; ip -n "${P}C" link set lo up
ip link add "${P}c" netns "${P}C" type veth peer name "${P}rc" netns "${P}R"
ip -n "${P}C" addr add 10.77.3.2/24 dev "${P}c"
ip -n "${P}R" addr add 10.77.3.1/24 dev "${P}rc"
ip -n "${P}C" link set "${P}c" up; ip -n "${P}R" link set "${P}rc" up
ip -n "${P}C" route add default via 10.77.3.1
ip -n "${P}C" route add 224.0.0.0/4 dev "${P}c"
HCOUNT=$((RATE * 3))
bg hub $INR "$MCF" hub --stats 1 --listen tcp://@:7000
wait_for "$TMP/hub.log" ready
for i in A:1 B:2 C:3; do
	isl=${i%:*}; n=${i#*:}; low=$(echo "$isl" | tr ABC abc)
	bg "gw$isl" ip netns exec "$P$isl" "$MCF" gateway --island "$isl" \
		--hub "tcp://10.77.$n.1:7000" --iface "$P$low" --group 239.2.2.2:5000
done
for isl in A B C; do wait_for "$TMP/gw$isl.log" "forwarder=yes"; done
RECVERS=""
for i in A:1 B:2 C:3; do
	isl=${i%:*}; low=$(echo "$isl" | tr ABC abc)
	bg "recv$isl" ip netns exec "$P$isl" "$RECV" udp 239.2.2.2:5000 --iface "$P$low" \
		--ready-file "$TMP/recv$isl.ready" --expect "$HCOUNT" --idle 2 --duration 20 --json
	RECVERS="$RECVERS ${PIDS##* }"
done
for isl in A B C; do
	i=0; until [ -e "$TMP/recv$isl.ready" ]; do i=$((i + 1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done
done
echo "== each island sends $HCOUNT datagrams as its own stream (A=1, B=2, C=3) to 239.2.2.2:5000"
SENDERS=""
for i in A:1 B:2 C:3; do
	isl=${i%:*}; n=${i#*:}; low=$(echo "$isl" | tr ABC abc)
	bg "send$isl" ip netns exec "$P$isl" "$SEND" --count "$HCOUNT" --rate "$RATE" \
		--size 1316 --iface "$P$low" --stream "$n" 239.2.2.2:5000
	SENDERS="$SENDERS ${PIDS##* }"
done
for pid in $SENDERS; do wait "$pid" 2>/dev/null || true; done
sleep 2
echo "== hub counters:"
grep ' stats hub=hub channel' "$TMP/hub.log" | tail -1 | tr ' ' '\n' | grep total | sed 's/^/   /'
for pid in $RECVERS; do wait "$pid" 2>/dev/null || true; done
ok=1
for isl in A B C; do
	line=$(python3 -c "
import json,sys
d=json.load(open('$TMP/recv$isl.log'))
s=d.get('streams',{})
print(' '.join('stream%s=%d' % (k, v['max_seq']-v['min_seq']+1) for k,v in sorted(s.items())), 'duplicates=%d lost=%d' % (d['duplicates'], d['lost']))
")
	echo "   island $isl received: $line"
	echo "$line" | grep -q "stream1=$HCOUNT stream2=$HCOUNT stream3=$HCOUNT duplicates=0 lost=0" || ok=0
done
if [ $ok = 1 ]; then
	echo "== every island got every other island's stream exactly once. Tearing down."
else
	echo "== some island missed datagrams or saw duplicates (see above)."
	exit 1
fi
