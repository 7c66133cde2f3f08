#!/bin/bash
# mcferry benchmark. Prints five Markdown tables on stdout (progress and
# notes go to stderr, the notes are repeated on stdout under the tables):
#
#   1. fan-out   one multicast stream -> mcferry relay (or socat) -> N TCP clients
#   2. ingest    datagrams/s the relay takes vs a bare recvmmsg loop (bare_recv)
#   3. chain     the seed chain: multicast -> relay -> splitter -> relay -> multicast
#   4. hub       3 islands, each a gateway, around one mcferry hub
#   5. callgrind user-space instructions per delivered datagram per client
#
#   source ns (P s)             relay ns (P r)                     clients ns (P c)
#   mcsend -> 239.9.9.9:5000    mcferry relay / socat / bare_recv   mcrecv tcp, N clients
#   PsS 10.91.1.2 ============ PsR 10.91.1.1   PcR 10.91.2.1 ======== PcC 10.91.2.2
#   (the hub table adds a hub ns and, per island, a gateway ns and a hosts ns)
#
# This is a benchmark, not a test: it asserts nothing about speed. It exits 0
# when the harness worked, whatever the figures (mcferry losing data, cutting
# clients off or crashing mid-run is reported under Notes, not as a failure),
# and non-zero only when the harness itself failed: a namespace could not be
# built, a tool is missing, a process could not be started or became ready,
# a load tool produced no parseable result.
#
# Usage: ./bench/run.sh [BUILD_DIR]          (make bench runs ./bench/run.sh build)
# Environment (all optional; see bench/README.md):
#   BENCH_MATRIX=default|tiny   tiny: a smoke run of every table, well under a minute
#   BENCH_TABLES="fanout ingest chain hub callgrind"   which tables to run
#   BENCH_ROWS="mcferry:10:1 ..."   fan-out rows KIND:MBITPS:CLIENTS (KIND mcferry|mcferry-wN|socat;
#                                    mcferry-wN runs the relay with --workers N)
#   BENCH_SECONDS  BENCH_REPEAT     fan-out send time per run, runs per row (round-robin)
#   BENCH_INGEST_SECONDS BENCH_INGEST_REPEAT BENCH_CHAIN_SECONDS BENCH_HUB_STREAMS
#   BENCH_HUB_SECONDS BENCH_CG_COUNT BENCH_CG_CLIENTS BENCH_CG_RATE
#   BENCH_SOCAT=0  BENCH_CALLGRIND=auto|1|0  BENCH_BUDGET (fan-out: no new run after
#   this many seconds)  BENCH_TOTAL_BUDGET (no new table after this many seconds, default
#   480; with the bounded waits inside a table the run stays under 10 minutes)  BENCH_SYNCOOKIES=1  BENCH_KEEP=1 (keep the logs)
#
# Everything it starts runs inside its own namespaces (prefix mfb<pid>), with
# no route out of them; every wait is bounded; on exit, Ctrl-C or TERM it
# kills exactly the PIDs it started and deletes exactly its namespaces.
set -u

BUILD=${1:-build}
MATRIX=${BENCH_MATRIX:-default}
case $MATRIX in
tiny)
	D_ROWS="mcferry:10:1 mcferry:10:10 mcferry:50:20 mcferry-w2:10:10 socat:10:1"
	D_SECS=2 D_REPEAT=1 D_IN_SECS=1 D_IN_REPEAT=1 D_CH_SECS=1 D_HUB_STREAMS=2 D_HUB_SECS=2
	D_CG_COUNT=300
	D_IN_CONFIGS="bare:1316:0 relay:1316:1"
	D_CH_SPECS="direct:950 chain:950 chaindg:950"
	;;
default)
	D_ROWS="mcferry:10:1 mcferry:200:100 mcferry:50:500 mcferry:50:100 mcferry:10:1000 mcferry:1:5000 mcferry-w2:10:1000 mcferry-w2:1:5000 mcferry:10:10 socat:10:1 socat:10:10"
	D_SECS=5 D_REPEAT=3 D_IN_SECS=3 D_IN_REPEAT=3 D_CH_SECS=4 D_HUB_STREAMS=10 D_HUB_SECS=5
	D_CG_COUNT=2000
	D_IN_CONFIGS="bare:1316:0 relay:1316:0 relay:1316:1 bare:64:0 relay:64:0 relay:64:1"
	D_CH_SPECS="direct:950 chain:950 direct:95000 chain:95000 chaindg:95000"
	;;
*)
	echo "bench: BENCH_MATRIX must be default or tiny, not '$MATRIX'" >&2
	exit 2
	;;
esac
ROWS_SPEC=${BENCH_ROWS:-$D_ROWS}
SECS=${BENCH_SECONDS:-$D_SECS}
REPEAT=${BENCH_REPEAT:-$D_REPEAT}
IN_SECS=${BENCH_INGEST_SECONDS:-$D_IN_SECS}
IN_REPEAT=${BENCH_INGEST_REPEAT:-$D_IN_REPEAT}
CH_SECS=${BENCH_CHAIN_SECONDS:-$D_CH_SECS}
HUB_STREAMS=${BENCH_HUB_STREAMS:-$D_HUB_STREAMS}
HUB_SECS=${BENCH_HUB_SECONDS:-$D_HUB_SECS}
CG_COUNT=${BENCH_CG_COUNT:-$D_CG_COUNT}
CG_CLIENTS=${BENCH_CG_CLIENTS:-10}
CG_RATE=${BENCH_CG_RATE:-400}
TABLES=" ${BENCH_TABLES:-fanout ingest chain hub callgrind} "
DO_SOCAT=${BENCH_SOCAT:-1}
DO_CG=${BENCH_CALLGRIND:-auto}
BUDGET=${BENCH_BUDGET:-330}
TOTAL_BUDGET=${BENCH_TOTAL_BUDGET:-480}
SIZE=1316
IDLE=2
HZ=$(getconf CLK_TCK)
GROUP=239.9.9.9
GROUP2=239.9.9.10
UPORT=5000
TPORT=7000

die() { echo "bench: $*" >&2; exit 1; }
want() { # want TABLE: selected, and the overall budget not used up
	case $TABLES in *" $1 "*) ;; *) return 1 ;; esac
	if [ -n "${T_START:-}" ] && [ "$(elapsed)" -ge "$TOTAL_BUDGET" ]; then
		note "overall time budget (${TOTAL_BUDGET} s) used up: skipped the $1 table"
		return 1
	fi
	return 0
}

[ "$(id -u)" = 0 ] || die "needs root (it builds network namespaces); try: sudo make bench"
for t in ip awk pgrep; do command -v $t >/dev/null || die "missing '$t'"; done
[ -d "$BUILD" ] || die "no build directory '$BUILD' (run make first)"
BIN=$(cd "$BUILD" && pwd)
MCF=$BIN/mcferry
SEND=$BIN/tests/tools/mcsend
RECV=$BIN/tests/tools/mcrecv
BARE=$BIN/bench/bare_recv
for f in "$MCF" "$SEND" "$RECV" "$BARE"; do
	[ -x "$f" ] || die "missing $f (run make; mcsend/mcrecv come from tests/tools, bare_recv from bench)"
done
if [ "$DO_SOCAT" = 1 ] && ! command -v socat >/dev/null; then
	echo "bench: socat not found; skipping the socat rows" >&2
	DO_SOCAT=0
fi

# 5000 clients need 5000+ descriptors in mcferry and in mcrecv. As root,
# ulimit -n raises the hard limit too (up to fs.nr_open).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

P=mfb$$
NS_S=${P}s NS_R=${P}r NS_C=${P}c
IF_S=${P}sS IF_SR=${P}sR IF_CR=${P}cR IF_C=${P}cC
RELAY_C=10.91.2.1
CLIENT_C=10.91.2.2
TMP=$(mktemp -d /tmp/mcferry-bench.XXXXXX)
PIDS=""
NSLIST=""
NOTES=""
HFAIL=""

# ---- process bookkeeping --------------------------------------------------

alive() { # alive PID: running and not a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

forget() { # forget PID: drop from the list once reaped
	local p out=""
	for p in $PIDS; do [ "$p" = "$1" ] || out="$out $p"; done
	PIDS=$out
}

stop_pid() { # stop_pid PID [GRACE_SECONDS]: TERM, then KILL after GRACE; reap
	local pid=$1 grace=${2:-5} i=0
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		while alive "$pid" && [ $i -lt $((grace * 10)) ]; do sleep 0.1; i=$((i + 1)); done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	forget "$pid"
}

stop_many() { # stop_many PID...: TERM all at once, then wait/KILL each (bounded)
	local p i
	for p in "$@"; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		i=0
		while alive "$p" && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		forget "$p"
	done
}

wait_pid() { # wait_pid PID SECONDS: wait for exit, kill if it outlives SECONDS; reap
	local pid=$1 lim=$(($2 * 10)) i=0
	while alive "$pid" && [ $i -lt $lim ]; do sleep 0.1; i=$((i + 1)); done
	if alive "$pid"; then
		echo "bench: pid $pid outlived ${2}s, stopping it" >&2
		stop_pid "$pid" 3
		return 1
	fi
	wait "$pid" 2>/dev/null
	forget "$pid"
}

LASTPID=""
bg() { # bg LOGNAME NS CMD...: start CMD inside NS
	local log=$TMP/$1 ns=$2
	shift 2
	# ip netns exec execs CMD itself: $! is CMD's pid.
	ip netns exec "$ns" "$@" >"$log.out" 2>"$log.err" </dev/null &
	LASTPID=$!
	PIDS="$PIDS $LASTPID"
}

cleanup() {
	local p ns
	trap - EXIT INT TERM
	for p in $PIDS; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		local i=0
		while alive "$p" && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=""
	for ns in $NSLIST; do ip netns del "$ns" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---- measurement helpers --------------------------------------------------

now_ns() { date +%s%N; }
elapsed() { echo $(( ($(now_ns) - T_START) / 1000000000 )); }

cpu_ticks() { # utime+stime of PID in clock ticks
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

tree_ticks() { # utime+stime of PID, of its reaped children (cutime+cstime) and of its live children
	local t c v
	t=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
	[ -n "$t" ] || return 0
	for c in $(pgrep -P "$1" 2>/dev/null); do
		v=$(cpu_ticks "$c")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

status_kb() { # status_kb PID FIELD: VmRSS / VmHWM in kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

tree_pss() { # Pss of PID plus its children, kB (shared pages counted once overall)
	local t=0 c v
	for c in "$1" $(pgrep -P "$1" 2>/dev/null); do
		v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$c/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

tree_rss() { # VmRSS of PID plus its children, kB
	local t c v
	t=$(status_kb "$1" VmRSS)
	[ -n "$t" ] || return 0
	for c in $(pgrep -P "$1" 2>/dev/null); do
		v=$(status_kb "$c" VmRSS)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

jnum() { # jnum FILE KEY: first top-level numeric "KEY": value of mcrecv's JSON
	sed 's/"per_client".*//' "$1" 2>/dev/null | grep -o "\"$2\": *[0-9.]*" | head -1 | sed 's/.*: *//'
}

jlat() { # jlat FILE p50|p99|max
	sed 's/"per_client".*//; s/.*"latency_us": *{//' "$1" 2>/dev/null | grep -o "\"$2\": *[0-9.]*" |
		head -1 | sed 's/.*: *//'
}

jstop() { sed -n 's/.*"stop_reason": *"\([a-z-]*\)".*/\1/p' "$1" 2>/dev/null; }

kv() { # kv FILE KEY: KEY=value from a one-line key=value output (mcsend, bare_recv)
	sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" "$1" 2>/dev/null | tail -1
}

stat_field() { # stat_field LOG KEY: KEY=value from mcferry's last relay stats line
	grep '^stats relay=' "$1" 2>/dev/null | tail -1 | grep -o "\b$2=[0-9]*" | cut -d= -f2
}

stat_sum() { # stat_sum LOG KEY: sum over channels of KEY in the last stats line of each channel
	grep '^stats ' "$1" 2>/dev/null | grep ' channel=' | awk -v k="$2" '{
		ch = ""; v = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^channel=/) ch = $i
			if (index($i, k "=") == 1) v = substr($i, length(k) + 2) + 0
		}
		last[ch] = v
	} END { s = 0; for (c in last) s += last[c]; print s + 0 }'
}

wait_grep() { # wait_grep FILE REGEX COUNT SECONDS PID: until COUNT lines match
	local i=0 n
	while [ $i -lt $(($4 * 10)) ]; do
		n=$(grep -c -- "$2" "$1" 2>/dev/null)
		[ "${n:-0}" -ge "$3" ] && return 0
		alive "$5" || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

wait_file() { # wait_file PATH SECONDS PID: until PATH exists (0), PID died (1) or timeout (2)
	local i=0
	while [ $i -lt $(($2 * 10)) ]; do
		[ -e "$1" ] && return 0
		alive "$3" || { [ -e "$1" ] && return 0; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	return 2
}

tcpext() { # tcpext NAME...: TcpExt counters of the relay namespace, "NAME=V ..."
	ip netns exec "$NS_R" cat /proc/net/netstat 2>/dev/null | awk -v want="$*" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) name[i] = $i; h = 1; next }
		$1 == "TcpExt:" && h { for (i = 2; i <= NF; i++) v[name[i]] = $i }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%s=%s ", w[i], v[w[i]] + 0 }'
}

udpc() { # udpc NS: "RcvbufErrors InErrors" UDP counters of namespace NS (/proc/net/snmp)
	ip netns exec "$1" cat /proc/net/snmp 2>/dev/null | awk '
		$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) name[i] = $i; h = 1; next }
		$1 == "Udp:" && h { for (i = 2; i <= NF; i++) v[name[i]] = $i }
		END { print v["RcvbufErrors"] + 0, v["InErrors"] + 0 }'
}
udpd() { # udpd "R0 E0" "R1 E1": receive-buffer drops in between
	echo "$1 $2" | awk 'NF == 4 { print $3 - $1; exit } { print "-" }'
}

wait_listen() { # wait_listen NS PORT SECONDS PID: until something listens on PORT in NS
	local i=0
	while [ $i -lt $(($3 * 10)) ]; do
		[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ] && return 0
		alive "$4" || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

hostcpu() { # "busy total" jiffies of all CPUs from /proc/stat (busy = all but idle+iowait)
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

hostbusy() { # hostbusy "B0 T0" "B1 T1": % of all CPUs busy in between
	echo "$1 $2" | awk 'NF == 4 && $4 > $2 { printf "%.0f", 100 * ($3 - $1) / ($4 - $2); exit } { print "-" }'
}

pct() { # pct TICKS0 TICKS1 SECONDS: CPU in % of one core
	awk -v a="$1" -v b="$2" -v s="$3" -v hz="$HZ" \
		'BEGIN { if (a == "" || b == "" || s <= 0) print "-"; else printf "%.1f", 100 * (b - a) / hz / s }'
}

note() { NOTES="$NOTES- $*
"; echo "bench: note: $*" >&2; }

hfail() { # the harness itself failed: noted, and the exit status becomes 1
	HFAIL="$HFAIL- $*
"
	note "HARNESS: $*"
}

fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "" || x == "-") print "-"; else printf f, x }'; }

mbps_pps() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%d", m * 1e6 / (s * 8) + 0.5 }'; }

median() { # median V... (ignores "-" and empty)
	printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { v[n++] = $1 + 0 }
		END { if (!n) { print "-"; exit } for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		print (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) }'
}
maxof() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { if (!n++ || $1 + 0 > m) m = $1 + 0 } END { print n ? m : "-" }'; }
sumof() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { s += $1; n++ } END { print n ? s : "-" }'; }

mcferry_log_notes() { # mcferry_log_notes TAG LOG: warn/error lines of an mcferry log, summarised
	local w
	w=$(grep -cE '^(warn|error)' "$2")
	if [ "$w" -gt 0 ]; then
		note "$1: $w warn/error lines in mcferry's log: $(grep -E '^(warn|error)' "$2" | sed 's/ c=[0-9]*//g; s/ peer=[^ ]*//; s/ queued=[0-9]*//; s/ sent=[0-9]*//; s/ node=[0-9a-f]*//' | sort | uniq -c | sort -rn | head -3 | sed 's/^ *//' | tr '\n' ';')"
	fi
	grep -qiE 'assert|sanitizer|segmentation|abort' "$2" && note "$1: mcferry's log mentions a crash: $(grep -iE 'assert|sanitizer|segmentation|abort' "$2" | head -2 | tr '\n' ';')"
	return 0
}

start_mcferry() { # start_mcferry TAG NS ARGS...: start, wait for 'ready'; sets LASTPID; 1 on failure
	local tag=$1 ns=$2
	shift 2
	bg "$tag" "$ns" "$MCF" "$@"
	wait_grep "$TMP/$tag.err" ' ready' 1 10 "$LASTPID" && return 0
	hfail "$tag: mcferry $* did not become ready: $(tail -3 "$TMP/$tag.err" | tr '\n' ' ')"
	stop_pid "$LASTPID"
	return 1
}

# ---- topology --------------------------------------------------------------

mkns() {
	ip netns add "$1" || die "cannot create namespace $1"
	NSLIST="$NSLIST $1"
	ip -n "$1" link set lo up
}
veth() { # veth NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || die "veth $2/$5 failed"
	ip -n "$1" addr add "$3" dev "$2" || die "address on $2 failed"
	ip -n "$4" addr add "$6" dev "$5" || die "address on $5 failed"
	ip -n "$1" link set "$2" up && ip -n "$4" link set "$5" up || die "link up $2/$5 failed"
}

echo "bench: building namespaces $NS_S (source) $NS_R (relay) $NS_C (clients)" >&2
for ns in $NS_S $NS_R $NS_C; do mkns "$ns"; done
veth "$NS_S" "$IF_S" 10.91.1.2/24 "$NS_R" "$IF_SR" 10.91.1.1/24
veth "$NS_C" "$IF_C" $CLIENT_C/24 "$NS_R" "$IF_CR" $RELAY_C/24
# Multicast leaves the source namespace only through its veth; the relay
# namespace sends the chain's output group back the same way. No namespace
# has a default route, so nothing can reach the host's own networks.
ip -n "$NS_S" route add 224.0.0.0/4 dev "$IF_S" || die "multicast route failed"
ip -n "$NS_R" route add 224.0.0.0/4 dev "$IF_SR" || die "multicast route failed"
# The only kernel setting the benchmark changes: SYN cookies off in the relay
# namespace (per-namespace sysctl). Thousands of clients connecting at once
# can overflow the listen queue; with cookies a client whose final ACK is
# dropped believes it is connected while the relay never hears of it (the
# relay speaks first, the client only reads), so the row would silently
# measure fewer clients. Without cookies the kernel retransmits the SYN-ACK.
# BENCH_SYNCOOKIES=1 keeps the kernel default.
if [ "${BENCH_SYNCOOKIES:-0}" != 1 ]; then
	ip netns exec "$NS_R" sysctl -qw net.ipv4.tcp_syncookies=0 ||
		echo "bench: could not turn SYN cookies off in $NS_R" >&2
fi

T_START=$(now_ns)
T_SEC=$T_START
section_done() { # progress: how long the last table took
	local t
	t=$(now_ns)
	echo "bench: -- $1 took $(( (t - T_SEC) / 1000000000 )) s (total $(elapsed) s)" >&2
	T_SEC=$t
}

# =============================================================================
# 1. Fan-out: one multicast stream -> relay -> N TCP clients
# =============================================================================
# run_fan mcferry|socat MBITPS CLIENTS: one run; sets R_* (figures), notes oddities.
# socat serves one client per process: `socat -U TCP4-LISTEN:..,fork
# UDP4-RECV:..,reuseaddr` forks a child per accepted client, and each child
# opens its own UDP socket joined to the group (the kernel hands every
# datagram to every socket bound to the port), so N clients cost N processes.

run_fan() {
	local kind=$1 mb=$2 n=$3 tag=$1-$2M-$3.r${REP:-1} rpid rlog i pps count
	local recv_pid send_pid recv_t0 cpu0 cpu1 rc0 rc1="" rcv h0 h1="" t0 rss rssmax=0 pssmax=0 hwm ns0 ns1
	pps=$(mbps_pps "$mb" $SIZE)
	count=$((pps * SECS))
	echo "bench: [${REP:-1}/$REPEAT] fan-out $kind ${mb}Mbit/s (${pps}pps) clients=$n seconds=$SECS" >&2
	if [ $((n + 64)) -gt "$NOFILE" ]; then
		note "$tag: skipped, RLIMIT_NOFILE is $NOFILE (need $((n + 64)))"
		return 1
	fi
	rm -f "$TMP/$tag.ready"
	ns0=$(tcpext ListenOverflows ListenDrops SyncookiesSent)
	rlog=$TMP/$tag.relay.err
	if [ "${kind%%-w*}" = mcferry ]; then
		# mcferry-wN: the relay with --workers N (one thread per worker)
		local workers=1
		case $kind in mcferry-w*) workers=${kind#mcferry-w} ;; esac
		start_mcferry "$tag.relay" "$NS_R" relay --stats 1 --workers "$workers" \
			"udp://@$GROUP:$UPORT?iface=$IF_SR" "tcp://@:$TPORT" || return 1
		rpid=$LASTPID
	else
		# -d: warnings only (-d -d logs every datagram, which costs socat CPU).
		bg "$tag.relay" "$NS_R" socat -d -U "TCP4-LISTEN:$TPORT,reuseaddr,fork,backlog=1024" \
			"UDP4-RECV:$UPORT,ip-add-membership=$GROUP:$IF_SR,reuseaddr"
		rpid=$LASTPID
		wait_listen "$NS_R" $TPORT 10 "$rpid" ||
			{ cat "$rlog" >&2; stop_pid "$rpid"; hfail "$tag: socat did not start listening"; return 1; }
	fi

	recv_t0=$(now_ns)
	bg "$tag.recv" "$NS_C" "$RECV" tcp "$RELAY_C:$TPORT" --clients "$n" --size "$SIZE" \
		--expect "$count" --count "$count" --idle "$IDLE" --duration $((SECS + 30)) \
		--connect-retry 30 --ready-file "$TMP/$tag.ready" --json
	recv_pid=$LASTPID
	wait_file "$TMP/$tag.ready" 40 "$recv_pid"
	case $? in
	1)
		hfail "$tag: mcrecv exited before connecting: $(head -c 300 "$TMP/$tag.recv.err" | tr '\n' ' ')"
		stop_pid "$rpid"; return 1 ;;
	2)
		note "$tag: mcrecv clients did not all connect within 40 s"
		stop_pid "$recv_pid"; stop_pid "$rpid"; return 1 ;;
	esac
	# A client's connect() returns before the relay has accepted it: wait
	# until the relay itself has taken every client.
	if [ "${kind%%-w*}" = mcferry ]; then
		wait_grep "$rlog" 'client connected' "$n" 30 "$rpid" ||
			note "$tag: after 30 s mcferry had accepted only $(grep -c 'client connected' "$rlog") of $n clients that the kernel had connected"
	else
		i=0
		while [ "$(pgrep -P "$rpid" | wc -l)" -lt "$n" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		[ $i -ge 300 ] && note "$tag: after 30 s socat had only $(pgrep -P "$rpid" | wc -l) of $n child processes"
	fi
	sleep 0.5

	cpu0=$(tree_ticks "$rpid")
	rc0=$(cpu_ticks "$recv_pid")
	h0=$(hostcpu)
	t0=$(now_ns)
	bg "$tag.send" "$NS_S" "$SEND" --count "$count" --rate "$pps" --size "$SIZE" \
		--ttl 1 --iface "$IF_S" --quiet "$GROUP:$UPORT"
	send_pid=$LASTPID
	# Sample the relay's RSS and the receiver's CPU while data flows, until
	# the receiver ends (all data in, every client closed, or $IDLE s idle);
	# hard limit SECS + 35 (mcrecv's own --duration is SECS + 30).
	i=0
	while alive "$recv_pid" && [ $i -lt $(((SECS + 35) * 10)) ]; do
		rss=$(tree_rss "$rpid")
		[ "${rss:-0}" -gt "$rssmax" ] && rssmax=$rss
		rcv=$(cpu_ticks "$recv_pid")
		[ -n "$rcv" ] && rc1=$rcv && h1=$(hostcpu)
		if [ "$kind" = socat ]; then
			cpu1=$(tree_ticks "$rpid")
			if [ $((i % 10)) = 5 ]; then
				rss=$(tree_pss "$rpid")
				[ "${rss:-0}" -gt "$pssmax" ] && pssmax=$rss
			fi
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait_pid "$send_pid" 5 || note "$tag: mcsend had to be stopped"
	wait_pid "$recv_pid" 5 || note "$tag: mcrecv had to be stopped"
	if [ "${kind%%-w*}" = mcferry ]; then
		cpu1=$(tree_ticks "$rpid")
		hwm=$(status_kb "$rpid" VmHWM)
		[ "${hwm:-0}" -gt "$rssmax" ] && rssmax=$hwm
	else
		# the children exit once their client is gone; the parent reaps them
		# and their CPU moves into its cutime/cstime
		i=0
		while [ -n "$(pgrep -P "$rpid")" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		local c1
		c1=$(tree_ticks "$rpid")
		[ -n "$c1" ] && cpu1=$c1
	fi
	alive "$rpid" || note "$tag: the relay exited during the run (see its log)"
	stop_pid "$rpid" 5
	ns1=$(tcpext ListenOverflows ListenDrops SyncookiesSent)

	# ---- figures
	local out=$TMP/$tag.recv.out sent ssecs uniq bytes p50 p99 stopr conn rsecs win
	sent=$(kv "$TMP/$tag.send.out" sent)
	ssecs=$(kv "$TMP/$tag.send.out" seconds)
	uniq=$(jnum "$out" unique)
	bytes=$(jnum "$out" bytes)
	conn=$(jnum "$out" connected_clients)
	rsecs=$(jnum "$out" seconds)
	stopr=$(jstop "$out")
	p50=$(jlat "$out" p50)
	p99=$(jlat "$out" p99)
	if [ -z "$sent" ] || [ -z "$ssecs" ] || [ -z "$uniq" ] || [ -z "$rsecs" ]; then
		hfail "$tag: missing output (mcsend: '$(cat "$TMP/$tag.send.out" "$TMP/$tag.send.err" | tr '\n' ' ')' mcrecv: '$(head -c 300 "$TMP/$tag.recv.err" | tr '\n' ' ')')"
		return 1
	fi
	# Delivery window: from the first datagram sent to the last one received
	# (mcrecv's end, less its idle wait if that is what stopped it); never
	# shorter than the send itself.
	win=$(awk -v r0="$recv_t0" -v rs="$rsecs" -v t0="$t0" -v st="$stopr" -v idle="$IDLE" -v ss="$ssecs" 'BEGIN {
		w = (r0 - t0) / 1e9 + rs - (st == "idle" ? idle : 0); printf "%.3f", (w > ss ? w : ss) }')
	R_GBPS=$(awk -v b="$bytes" -v w="$win" 'BEGIN { printf "%.4f", b * 8 / w / 1e9 }')
	R_LOSS=$(awk -v u="$uniq" -v s="$sent" -v n="$n" 'BEGIN { e = s * n; printf "%.3f", (e > 0 ? 100 * (e - u) / e : 0) }')
	R_CPU=$(pct "$cpu0" "${cpu1:-}" "$win")
	R_RCPU=$(pct "$rc0" "$rc1" "$win")
	R_HOST=$(hostbusy "$h0" "${h1:-}")
	R_RSS=$rssmax
	R_P50=$p50 R_P99=$p99
	if [ "${kind%%-w*}" = mcferry ]; then
		R_DROPS=$(stat_field "$rlog" drops)
		R_CUTS=$(stat_field "$rlog" cutoffs)
		local indg outdg
		indg=$(stat_field "$rlog" in_dgrams)
		[ -n "$indg" ] && [ "$indg" != "$sent" ] &&
			note "$tag: mcferry read $indg of $sent datagrams (the rest were lost before the relay, e.g. UDP receive buffer)"
		outdg=$(stat_field "$rlog" out_dgrams)
		[ -n "$outdg" ] && [ "$outdg" != "$uniq" ] &&
			note "$tag: mcferry counted out_dgrams=$outdg but the clients received $uniq unique datagrams"
		mcferry_log_notes "$tag" "$rlog"
		# Clients that mcrecv closed (after IDLE s without data) while the
		# relay still held data for them: data stranded in the relay.
		local strand
		strand=$(grep 'client closed reason=eof' "$rlog" | grep -c 'queued=[1-9]')
		[ "$strand" -gt 0 ] && note "$tag: $strand clients were closed by mcrecv after ${IDLE} s without data while mcferry still had data queued for them (queued bytes, min and max: $(grep 'client closed reason=eof' "$rlog" | grep -o 'queued=[1-9][0-9]*' | cut -d= -f2 | sort -n | sed -n '1p;$p' | tr '\n' ' ')): for ${IDLE} s the relay wrote nothing more to clients that were reading"
	else
		R_DROPS=- R_CUTS=-
		[ "$n" -gt 1 ] && note "$tag: socat's $((n + 1)) processes: RSS sum $(awk -v k="$rssmax" 'BEGIN { printf "%.1f", k / 1024 }') MiB (shared pages counted in every process), PSS sum $(awk -v k="$pssmax" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
		grep -q ' E ' "$rlog" && note "$tag: socat logged errors: $(grep ' E ' "$rlog" | head -2 | tr '\n' ';')"
	fi
	[ "$stopr" = count ] || note "$tag: mcrecv stopped by '$stopr' (connected=$conn/$n, unique=$uniq of $((sent * n)))"
	if [ "$ns0" != "$ns1" ]; then
		note "$tag: the clients' connect burst overflowed the relay's listen queue: $(echo "$ns0 $ns1" | tr ' ' '\n' | awk -F= 'NF == 2 {
			if (!($1 in a)) a[$1] = $2; else if ($2 != a[$1]) printf "%s +%d ", $1, $2 - a[$1] }')(kernel counters of the relay namespace; SYN cookies $( [ "${BENCH_SYNCOOKIES:-0}" = 1 ] && echo on || echo 'off, so the kernel retried them'))"
	fi
	awk -v c="$R_RCPU" 'BEGIN { exit !(c >= 90) }' &&
		note "$tag: the receiver (mcrecv, one thread) used $R_RCPU% of a core: the figures of this row are bounded by the load generator/machine, not only by the relay"
	echo "bench:   sent=$sent in ${ssecs}s window=${win}s unique=$uniq bytes=$bytes relay_cpu=$R_CPU% recv_cpu=$R_RCPU% host_busy=$R_HOST% rss=${R_RSS}kB p50=${p50}us p99=${p99}us stop=$stopr" >&2
	return 0
}

FAN_TABLE=""
if want fanout; then
	CONFIGS=""
	for r in $ROWS_SPEC; do
		case $r in
		mcferry:*:* | mcferry-w[0-9]*:*:* | socat:*:*) ;;
		*) die "BENCH_ROWS: '$r' is not KIND:MBITPS:CLIENTS" ;;
		esac
		[ "${r%%:*}" = socat ] && [ "$DO_SOCAT" != 1 ] && continue
		CONFIGS="$CONFIGS $r"
	done
	declare -A V
	# Every configuration runs REPEAT times, round-robin (so a burst of noise
	# from other tenants hits different rows, not one row three times); the
	# table shows the median of each column (drops and cutoffs: the sum,
	# loss: the worst). No new run starts after BUDGET seconds.
	for rep in $(seq 1 "$REPEAT"); do
		for cfg in $CONFIGS; do
			REP=$rep
			if [ "$(elapsed)" -ge "$BUDGET" ]; then
				note "fan-out time budget (${BUDGET} s) used up: skipped $cfg run $rep"
				continue
			fi
			IFS=: read -r kind mb n <<<"$cfg"
			if run_fan "$kind" "$mb" "$n"; then
				for k in GBPS LOSS P50 P99 CPU RSS DROPS CUTS RCPU HOST; do
					eval "V[$cfg.$k]=\"\${V[$cfg.$k]:-} \$R_$k\""
				done
				V[$cfg.ok]=$((${V[$cfg.ok]:-0} + 1))
			fi
		done
	done
	# The 1-client row of each relay kind is the RSS baseline.
	declare -A BASE_RSS
	for cfg in $CONFIGS; do
		IFS=: read -r kind mb n <<<"$cfg"
		[ "$n" = 1 ] && [ -n "${V[$cfg.ok]:-}" ] && [ -z "${BASE_RSS[$kind]:-}" ] &&
			BASE_RSS[$kind]=$(median ${V[$cfg.RSS]})
	done
	ROWS=""
	for cfg in $CONFIGS; do
		IFS=: read -r kind mb n <<<"$cfg"
		if [ -z "${V[$cfg.ok]:-}" ]; then
			ROWS="$ROWS| $kind | $mb | $n | failed (see notes) | - | - | - | - | - | - | - | - | - | - |
"
			continue
		fi
		for k in GBPS P50 P99 CPU RSS RCPU HOST; do
			eval "M_$k=\$(median \${V[$cfg.$k]})"
		done
		M_LOSS=$(maxof ${V[$cfg.LOSS]}) M_DROPS=$(sumof ${V[$cfg.DROPS]}) M_CUTS=$(sumof ${V[$cfg.CUTS]})
		for k in GBPS LOSS P50 P99 CPU RSS; do eval "V[$cfg.m$k]=\$M_$k"; done
		PERC=-
		if [ "$n" -gt 1 ] && [ -n "${BASE_RSS[$kind]:-}" ]; then
			PERC=$(awk -v r="$M_RSS" -v b="${BASE_RSS[$kind]}" -v n="$n" 'BEGIN { printf "%.1f", (r - b) / (n - 1) }')
		fi
		ROWS="$ROWS| $kind | $mb | $n | $(fmt "$M_GBPS" %.3f) | $(fmt "$M_LOSS" %.2f) | $(fmt "$M_CPU" %.1f) | $(awk -v k="$M_RSS" 'BEGIN { printf "%.1f", k / 1024 }') | $PERC | $(fmt "$M_P50" %.0f) | $(fmt "$M_P99" %.0f) | $M_DROPS | $M_CUTS | $(fmt "$M_RCPU" %.0f) | $(fmt "$M_HOST" %.0f) |
"
		[ "${V[$cfg.ok]}" = "$REPEAT" ] || note "$cfg: only ${V[$cfg.ok]} of $REPEAT repetitions produced figures"
	done
	ratio() { # ratio CFG_A CFG_B KEY
		awk -v a="${V[$1.m$3]:-}" -v b="${V[$2.m$3]:-}" \
			'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'
	}
	for cfg in $CONFIGS; do
		IFS=: read -r kind mb n <<<"$cfg"
		[ "$kind" = socat ] || continue
		m=mcferry:$mb:$n
		[ -n "${V[$cfg.mGBPS]:-}" ] && [ -n "${V[$m.mGBPS]:-}" ] || continue
		ROWS="$ROWS| mcferry/socat | $mb | $n | $(ratio "$m" "$cfg" GBPS) | $(fmt "${V[$m.mLOSS]}" %.2f) vs $(fmt "${V[$cfg.mLOSS]}" %.2f) | $(ratio "$m" "$cfg" CPU) | $(ratio "$m" "$cfg" RSS) | - | $(ratio "$m" "$cfg" P50) | $(ratio "$m" "$cfg" P99) | - | - | - | - |
"
	done
	FAN_TABLE="### 1. Fan-out: multicast -> relay -> N TCP clients

$SIZE-byte datagrams, ${SECS} s per run; each row: median of $REPEAT run(s), round-robin (loss: worst run; drops, cutoffs: sum). RSS/client: (RSS - RSS of the same relay with 1 client) / (clients - 1).

| relay | Mbit/s in | clients | delivered Gbit/s | loss % | relay CPU % | relay RSS MiB | RSS/client KiB | p50 µs | p99 µs | drops | cutoffs | mcrecv CPU % | host busy % |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
$ROWS"
fi

# =============================================================================
# 2. Ingest: datagrams/s the relay takes vs a bare recvmmsg loop
# =============================================================================
# run_ingest bare|relay SIZE CLIENTS: mcsend --rate 0 for IN_SECS seconds;
# rate = datagrams received / sender's seconds.

run_ingest() {
	local kind=$1 size=$2 n=$3 tag=ingest-$1-$2-$3.r${REP:-1} rpid cpid="" cpu0 cpu1 h0 h1 u0 u1 sp
	local sent ssecs got
	echo "bench: [${REP:-1}/$IN_REPEAT] ingest $kind size=$size clients=$n seconds=$IN_SECS" >&2
	rm -f "$TMP/$tag.ready" "$TMP/$tag.cready"
	if [ "$kind" = bare ]; then
		bg "$tag.rx" "$NS_R" "$BARE" "$GROUP:$UPORT" "$IF_SR" --duration $((IN_SECS + 15)) --idle 1 \
			--ready-file "$TMP/$tag.ready"
		rpid=$LASTPID
		wait_file "$TMP/$tag.ready" 10 "$rpid" ||
			{ hfail "$tag: bare_recv did not start: $(head -c 300 "$TMP/$tag.rx.err")"; stop_pid "$rpid"; return 1; }
	else
		start_mcferry "$tag.rx" "$NS_R" relay --stats 1 \
			"udp://@$GROUP:$UPORT?iface=$IF_SR" "tcp://@:$TPORT" || return 1
		rpid=$LASTPID
		if [ "$n" -gt 0 ]; then
			bg "$tag.recv" "$NS_C" "$RECV" tcp "$RELAY_C:$TPORT" --clients "$n" --size "$size" \
				--idle 0 --duration $((IN_SECS + 20)) --connect-retry 10 --json \
				--ready-file "$TMP/$tag.cready"
			cpid=$LASTPID
			wait_file "$TMP/$tag.cready" 15 "$cpid" ||
				{ hfail "$tag: mcrecv did not connect"; stop_many "$cpid" "$rpid"; return 1; }
			wait_grep "$TMP/$tag.rx.err" 'client connected' "$n" 10 "$rpid" ||
				note "$tag: mcferry did not log the client's connection"
		fi
	fi
	sleep 0.3
	cpu0=$(cpu_ticks "$rpid")
	h0=$(hostcpu)
	u0=$(udpc "$NS_R")
	bg "$tag.send" "$NS_S" "$SEND" --count 0 --rate 0 --size "$size" --ttl 1 --iface "$IF_S" \
		--quiet "$GROUP:$UPORT"
	sp=$LASTPID
	sleep "$IN_SECS"
	stop_pid "$sp" 5
	cpu1=$(cpu_ticks "$rpid")
	h1=$(hostcpu)
	sent=$(kv "$TMP/$tag.send.out" sent)
	ssecs=$(kv "$TMP/$tag.send.out" seconds)
	if [ "$kind" = bare ]; then
		wait_pid "$rpid" 10 || note "$tag: bare_recv had to be stopped"
		got=$(kv "$TMP/$tag.rx.out" dgrams)
		R_CUTS=-
	else
		alive "$rpid" || note "$tag: the relay exited during the run (see its log)"
		# mcferry prints a last stats line when it shuts down
		sleep 0.2
		stop_pid "$rpid" 5
		got=$(stat_field "$TMP/$tag.rx.err" in_dgrams)
		R_CUTS=$(stat_field "$TMP/$tag.rx.err" cutoffs)
		mcferry_log_notes "$tag" "$TMP/$tag.rx.err"
		[ -n "$cpid" ] && { wait_pid "$cpid" 5 || note "$tag: mcrecv had to be stopped"; }
	fi
	u1=$(udpc "$NS_R")
	if [ -z "$sent" ] || [ -z "$ssecs" ] || [ -z "$got" ]; then
		hfail "$tag: missing output (mcsend: '$(cat "$TMP/$tag.send.out" "$TMP/$tag.send.err" | tr '\n' ' ')' receiver: '$(head -c 200 "$TMP/$tag.rx.out" | tr '\n' ' ')')"
		return 1
	fi
	R_DROPS=$(udpd "$u0" "$u1")
	R_SENT=$(awk -v s="$sent" -v t="$ssecs" 'BEGIN { printf "%.0f", s / t }')
	R_RATE=$(awk -v s="$got" -v t="$ssecs" 'BEGIN { printf "%.0f", s / t }')
	R_LOSS=$(awk -v s="$sent" -v g="$got" 'BEGIN { printf "%.2f", (s > 0 ? 100 * (s - g) / s : 0) }')
	R_CPU=$(pct "$cpu0" "$cpu1" "$ssecs")
	# datagrams per second of receiver CPU: what one core would take if the
	# receiver had it to itself (the sender here is the limit as often as not)
	R_PERCPU=$(awk -v r="$R_RATE" -v c="$R_CPU" 'BEGIN { if (c + 0 > 0) printf "%.0f", r / (c / 100); else print "-" }')
	R_HOST=$(hostbusy "$h0" "$h1")
	echo "bench:   sent=$sent in ${ssecs}s received=$got rate=${R_RATE}/s cpu=$R_CPU% per-cpu-second=$R_PERCPU rcvbuf_drops=$R_DROPS cutoffs=$R_CUTS host_busy=$R_HOST%" >&2
	return 0
}

section_done fan-out
INGEST_TABLE=""
if want ingest; then
	IN_CONFIGS=$D_IN_CONFIGS
	declare -A I
	for rep in $(seq 1 "$IN_REPEAT"); do
		for cfg in $IN_CONFIGS; do
			REP=$rep
			IFS=: read -r kind size n <<<"$cfg"
			if run_ingest "$kind" "$size" "$n"; then
				for k in SENT RATE LOSS CPU PERCPU HOST DROPS CUTS; do
					eval "I[$cfg.$k]=\"\${I[$cfg.$k]:-} \$R_$k\""
				done
				I[$cfg.ok]=1
			fi
		done
	done
	ROWS=""
	for cfg in $IN_CONFIGS; do
		IFS=: read -r kind size n <<<"$cfg"
		if [ -z "${I[$cfg.ok]:-}" ]; then
			ROWS="$ROWS| $size | $kind | $n | failed (see notes) | - | - | - | - | - | - | - | - | - |
"
			continue
		fi
		for k in SENT RATE LOSS CPU PERCPU HOST DROPS; do eval "I[$cfg.m$k]=\$(median \${I[$cfg.$k]})"; done
		RAT=- RATC=-
		if [ "$kind" = relay ] && [ -n "${I[bare:$size:0.mRATE]:-}" ]; then
			RAT=$(awk -v a="${I[$cfg.mRATE]}" -v b="${I[bare:$size:0.mRATE]}" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
			RATC=$(awk -v a="${I[$cfg.mPERCPU]}" -v b="${I[bare:$size:0.mPERCPU]}" 'BEGIN { if (a != "-" && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
		fi
		if [ "$kind" = bare ]; then what="bare_recv"; cu=-; else what="mcferry relay"; cu=$(sumof ${I[$cfg.CUTS]}); fi
		ROWS="$ROWS| $size | $what | $n | $(fmt "${I[$cfg.mSENT]}" %.0f) | $(fmt "${I[$cfg.mRATE]}" %.0f) | $(fmt "${I[$cfg.mLOSS]}" %.1f) | $RAT | $(fmt "${I[$cfg.mCPU]}" %.0f) | $(fmt "${I[$cfg.mPERCPU]}" %.0f) | $RATC | $(fmt "${I[$cfg.mDROPS]}" %.0f) | $cu | $(fmt "${I[$cfg.mHOST]}" %.0f) |
"
	done
	INGEST_TABLE="### 2. Ingest: datagrams/s taken from one multicast group

mcsend --rate 0 (as fast as it can) for ${IN_SECS} s; received/s = datagrams the receiver got (bare_recv's count, mcferry's in_dgrams) / sender's seconds; median of $IN_REPEAT run(s). Both receivers use a 2 MiB receive buffer and 64-datagram recvmmsg. If received ≈ sent, the sender, not the receiver, was the limit.

| bytes | receiver | TCP clients | sent/s | received/s | not received % | relay/bare | receiver CPU % | received per CPU-second | relay/bare per CPU-second | rcvbuf drops | cutoffs | host busy % |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
$ROWS"
fi

# =============================================================================
# 3. Seed chain: multicast -> relay -> splitter -> relay -> multicast
# =============================================================================
#   mcsend (s) -> 239.9.9.9 -> A: relay udp://@G tcp://10.91.2.2:1602 (r)
#   -> splitter: relay tcp://@:1602 tcp://@:1603 (c)
#   -> B: relay tcp://10.91.2.2:1603 udp://239.9.9.10?iface= (r) -> mcrecv udp (s)
# direct: mcsend (s) -> 239.9.9.9 -> mcrecv udp (r), the one-hop baseline.

run_chain() { # run_chain direct|chain|chaindg PPS SECONDS (chaindg: framing=datagram on the TCP links)
	local mode=$1 pps=$2 secs=$3 tag=chain-$1-$2 count recv_pid send_pid h0 h1 c0 c1 p pa="" ps="" pb="" fr=""
	local us0 us1 ur0 ur1
	count=$((pps * secs))
	echo "bench: chain $mode ${pps}pps seconds=$secs" >&2
	rm -f "$TMP/$tag.ready"
	[ "$mode" = chaindg ] && fr="?framing=datagram"
	if [ "$mode" != direct ]; then
		start_mcferry "$tag.split" "$NS_C" relay --stats 1 "tcp://@:1602$fr" "tcp://@:1603$fr" || return 1
		ps=$LASTPID
		start_mcferry "$tag.b" "$NS_R" relay --stats 1 "tcp://$CLIENT_C:1603$fr" \
			"udp://$GROUP2:$UPORT?iface=$IF_SR" || { stop_pid "$ps"; return 1; }
		pb=$LASTPID
		start_mcferry "$tag.a" "$NS_R" relay --stats 1 "udp://@$GROUP:$UPORT?iface=$IF_SR" \
			"tcp://$CLIENT_C:1602$fr" || { stop_many "$pb" "$ps"; return 1; }
		pa=$LASTPID
		wait_grep "$TMP/$tag.split.err" 'publisher connected' 1 10 "$ps" &&
			wait_grep "$TMP/$tag.split.err" 'client connected' 1 10 "$ps" ||
			note "$tag: the splitter did not log both connections within 10 s"
		bg "$tag.recv" "$NS_S" "$RECV" udp "$GROUP2:$UPORT" --iface "$IF_S" --expect "$count" \
			--count "$count" --idle "$IDLE" --duration $((secs + 20)) --json --ready-file "$TMP/$tag.ready"
	else
		bg "$tag.recv" "$NS_R" "$RECV" udp "$GROUP:$UPORT" --iface "$IF_SR" --expect "$count" \
			--count "$count" --idle "$IDLE" --duration $((secs + 20)) --json --ready-file "$TMP/$tag.ready"
	fi
	recv_pid=$LASTPID
	wait_file "$TMP/$tag.ready" 10 "$recv_pid" ||
		{ hfail "$tag: mcrecv udp did not start: $(head -c 200 "$TMP/$tag.recv.err")"; stop_many "$recv_pid" $pa $pb $ps; return 1; }
	sleep 0.3
	c0=0
	for p in $pa $ps $pb; do c0=$((c0 + $(cpu_ticks "$p"))); done
	h0=$(hostcpu)
	us0=$(udpc "$NS_S") ur0=$(udpc "$NS_R")
	bg "$tag.send" "$NS_S" "$SEND" --count "$count" --rate "$pps" --size "$SIZE" --ttl 1 \
		--iface "$IF_S" --quiet "$GROUP:$UPORT"
	send_pid=$LASTPID
	wait_pid "$send_pid" $((secs * 3 + 10)) || note "$tag: mcsend had to be stopped"
	wait_pid "$recv_pid" $((IDLE + 20)) || note "$tag: mcrecv had to be stopped"
	h1=$(hostcpu)
	us1=$(udpc "$NS_S") ur1=$(udpc "$NS_R")
	c1=0
	for p in $pa $ps $pb; do c1=$((c1 + $(cpu_ticks "$p"))); done
	R_HOPS=""
	if [ "$mode" != direct ]; then
		for p in $pa $ps $pb; do alive "$p" || note "$tag: relay pid $p exited during the run"; done
		# mcferry prints a last stats line when it shuts down
		stop_many "$pa" "$pb" "$ps"
		for p in a split b; do
			R_HOPS="$R_HOPS $p: in=$(stat_field "$TMP/$tag.$p.err" in_dgrams) out=$(stat_field "$TMP/$tag.$p.err" out_dgrams) drops=$(stat_field "$TMP/$tag.$p.err" drops) cutoffs=$(stat_field "$TMP/$tag.$p.err" cutoffs);"
			mcferry_log_notes "$tag.$p" "$TMP/$tag.$p.err"
		done
	fi
	local out=$TMP/$tag.recv.out sent ssecs uniq rsecs stopr bad
	sent=$(kv "$TMP/$tag.send.out" sent)
	ssecs=$(kv "$TMP/$tag.send.out" seconds)
	uniq=$(jnum "$out" unique)
	rsecs=$(jnum "$out" seconds)
	stopr=$(jstop "$out")
	bad=$(jnum "$out" bad)
	if [ -z "$sent" ] || [ -z "$ssecs" ] || [ -z "$uniq" ] || [ -z "$rsecs" ]; then
		hfail "$tag: missing output (mcsend: '$(tr '\n' ' ' <"$TMP/$tag.send.out")' mcrecv: '$(head -c 300 "$TMP/$tag.recv.err" | tr '\n' ' ')')"
		return 1
	fi
	R_HOPS="$R_HOPS receiver: unique=$uniq bad=${bad:-?} of $sent sent; rcvbuf drops: receiver ns $(udpd "$us0" "$us1"), relay ns $(udpd "$ur0" "$ur1")"
	[ "$stopr" = count ] || note "$tag: mcrecv stopped by '$stopr' (unique=$uniq of $sent, bad=${bad:-?})"
	R_SENTM=$(awk -v s="$sent" -v t="$ssecs" -v z=$SIZE 'BEGIN { printf "%.1f", s * z * 8 / t / 1e6 }')
	R_DELM=$(awk -v u="$uniq" -v t="$ssecs" -v z=$SIZE 'BEGIN { printf "%.1f", u * z * 8 / t / 1e6 }')
	R_LOSS=$(awk -v u="$uniq" -v s="$sent" 'BEGIN { printf "%.3f", (s > 0 ? 100 * (s - u) / s : 0) }')
	R_P50=$(jlat "$out" p50) R_P99=$(jlat "$out" p99)
	R_CPU=$(pct "$c0" "$c1" "$ssecs")
	[ "$mode" = direct ] && R_CPU=-
	R_HOST=$(hostbusy "$h0" "$h1")
	echo "bench:   sent=$sent in ${ssecs}s unique=$uniq p50=${R_P50}us p99=${R_P99}us relays_cpu=$R_CPU% host_busy=$R_HOST% stop=$stopr ${R_HOPS}" >&2
	return 0
}

section_done ingest
CHAIN_TABLE=""
if want chain; then
	ROWS=""
	declare -A CH
	for spec in $D_CH_SPECS; do
		mode=${spec%%:*} pps=${spec#*:}
		case $mode in
		direct) label="direct multicast" ;;
		chain) label="relay → splitter → relay" ;;
		chaindg) label="same, framing=datagram" ;;
		esac
		if run_chain "$mode" "$pps" "$CH_SECS"; then
			CH[$spec.P50]=$R_P50 CH[$spec.P99]=$R_P99
			add50=- add99=-
			if [ "$mode" != direct ] && [ -n "${CH[direct:$pps.P50]:-}" ]; then
				add50=$(awk -v a="$R_P50" -v b="${CH[direct:$pps.P50]}" 'BEGIN { printf "%.0f", a - b }')
				add99=$(awk -v a="$R_P99" -v b="${CH[direct:$pps.P99]}" 'BEGIN { printf "%.0f", a - b }')
			fi
			note "chain $mode ${pps}pps per hop (mcferry stats):${R_HOPS}"
			ROWS="$ROWS| $label | $(awk -v p="$pps" -v z=$SIZE 'BEGIN { printf "%.0f", p * z * 8 / 1e6 }') | $R_SENTM | $R_DELM | $(fmt "$R_LOSS" %.2f) | $(fmt "$R_P50" %.0f) | $(fmt "$R_P99" %.0f) | $add50 | $add99 | $R_CPU | $R_HOST |
"
		else
			ROWS="$ROWS| $label | $pps pps | failed (see notes) | - | - | - | - | - | - | - | - |
"
		fi
	done
	CHAIN_TABLE="### 3. Seed chain: multicast → relay → TCP → splitter → TCP → relay → multicast

$SIZE-byte datagrams for ${CH_SECS} s. \"direct\" is one multicast hop (sender → receiver in the next namespace), the baseline for \"added\". The chain uses the task page's URIs (raw framing, chunk=1316) unless the row says framing=datagram. Rates are over the sender's own send time; loss counts datagrams the receiver did not get intact (a misaligned chunk is not a datagram it was sent); 1 Gbit/s = 95000 pps.

| path | Mbit/s asked | Mbit/s sent | Mbit/s delivered | loss % | p50 µs | p99 µs | added p50 µs | added p99 µs | 3 relays CPU % | host busy % |
|---|---|---|---|---|---|---|---|---|---|---|
$ROWS"
fi

# =============================================================================
# 4. Hub: 3 islands around one hub
# =============================================================================
#   hub ns (P h)  mcferry hub --listen tcp://@:7000, 10.92.I.1 towards island I
#   gateway ns (P gI)  mcferry gateway, wan 10.92.I.2, lan 10.93.I.1
#   hosts ns (P xI)    mcsend / mcrecv, lan 10.93.I.2 (224.0.0.0/4 via lan)
# Island I exports its own channels 239.10.I.K:5000 (K = 1..HUB_STREAMS) and
# imports the other islands' channels; island 1 (A) receives and counts.

section_done chain
HUB_TABLE=""
if want hub; then
	NS_H=${P}h
	HUB_OK=1
	mkns "$NS_H"
	for I in 1 2 3; do
		mkns "${P}g$I"
		mkns "${P}x$I"
		veth "$NS_H" "${P}h$I" 10.92.$I.1/24 "${P}g$I" "${P}w$I" 10.92.$I.2/24
		veth "${P}g$I" "${P}l$I" 10.93.$I.1/24 "${P}x$I" "${P}y$I" 10.93.$I.2/24
		ip -n "${P}g$I" route add 224.0.0.0/4 dev "${P}l$I" || die "multicast route failed"
		ip -n "${P}x$I" route add 224.0.0.0/4 dev "${P}y$I" || die "multicast route failed"
	done
	hpps=$(mbps_pps 10 $SIZE)
	hcount=$((hpps * HUB_SECS))
	echo "bench: hub: 3 islands x $HUB_STREAMS streams x 10 Mbit/s (${hpps}pps) for ${HUB_SECS}s" >&2
	HP=""
	start_mcferry hub.hub "$NS_H" hub --stats 1 --listen "tcp://@:$TPORT" || HUB_OK=0
	hub_pid=$LASTPID
	[ $HUB_OK = 1 ] && HP="$hub_pid"
	declare -A GWP
	for I in 1 2 3; do
		[ $HUB_OK = 1 ] || break
		args=""
		for J in 1 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				if [ $J = $I ]; then args="$args --export 239.10.$J.$K:$UPORT"; else args="$args --import 239.10.$J.$K:$UPORT"; fi
			done
		done
		# shellcheck disable=SC2086
		start_mcferry "hub.gw$I" "${P}g$I" gateway --stats 1 --hub "tcp://10.92.$I.1:$TPORT" \
			--iface "${P}l$I" --island "I$I" $args || { HUB_OK=0; break; }
		GWP[$I]=$LASTPID
		HP="$HP $LASTPID"
	done
	if [ $HUB_OK = 1 ]; then
		wait_grep "$TMP/hub.hub.err" 'gateway up' 3 15 "$hub_pid" ||
			note "hub: only $(grep -c 'gateway up' "$TMP/hub.hub.err") of 3 gateways up after 15 s"
		for I in 1 2 3; do
			wait_grep "$TMP/hub.gw$I.err" 'forwarder=yes' "$HUB_STREAMS" 10 "${GWP[$I]}" ||
				note "hub: gateway I$I is forwarder for only $(grep -c 'forwarder=yes' "$TMP/hub.gw$I.err") of its $HUB_STREAMS channels after 10 s"
		done
		RP=""
		declare -A RPID
		for J in 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				bg "hub.recv$J.$K" "${P}x1" "$RECV" udp "239.10.$J.$K:$UPORT" --iface "${P}y1" \
					--expect "$hcount" --count "$hcount" --idle "$IDLE" --duration $((HUB_SECS + 25)) \
					--json --ready-file "$TMP/hub.recv$J.$K.ready"
				RP="$RP $LASTPID"
				RPID[$J.$K]=$LASTPID
			done
		done
		for J in 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				wait_file "$TMP/hub.recv$J.$K.ready" 10 "${RPID[$J.$K]}" ||
					{ hfail "hub: mcrecv for 239.10.$J.$K did not start"; HUB_OK=0; }
			done
		done
	fi
	if [ $HUB_OK = 1 ]; then
		sleep 0.5
		hc0=$(cpu_ticks "$hub_pid")
		for I in 1 2 3; do eval "gc0_$I=\$(cpu_ticks ${GWP[$I]})"; done
		h0=$(hostcpu)
		SP=""
		for I in 1 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				bg "hub.send$I.$K" "${P}x$I" "$SEND" --count "$hcount" --rate "$hpps" --size "$SIZE" \
					--ttl 1 --iface "${P}y$I" --stream $((I * 100 + K)) --quiet "239.10.$I.$K:$UPORT"
				SP="$SP $LASTPID"
			done
		done
		hrss=0
		i=0
		while [ $i -lt $(((HUB_SECS + 30) * 10)) ]; do
			left=0
			for p in $RP; do alive "$p" && left=1 && break; done
			[ $left = 0 ] && break
			r=$(status_kb "$hub_pid" VmRSS)
			[ "${r:-0}" -gt "$hrss" ] && hrss=$r
			hc1=$(cpu_ticks "$hub_pid")
			for I in 1 2 3; do eval "gc1_$I=\$(cpu_ticks ${GWP[$I]})"; done
			h1=$(hostcpu)
			sleep 0.1
			i=$((i + 1))
		done
		for p in $SP; do wait_pid "$p" 5 || note "hub: an mcsend had to be stopped"; done
		for p in $RP; do wait_pid "$p" 5 || note "hub: an mcrecv had to be stopped"; done
		# figures
		hsent=0 huniq=0 ssecs_max=0 P50S="" P99S=""
		for J in 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				s=$(kv "$TMP/hub.send$J.$K.out" sent)
				u=$(jnum "$TMP/hub.recv$J.$K.out" unique)
				if [ -z "$s" ] || [ -z "$u" ]; then
					hfail "hub: missing output of the 239.10.$J.$K sender or receiver"
					HUB_OK=0
					continue
				fi
				st=$(jstop "$TMP/hub.recv$J.$K.out")
				[ "$st" = count ] || note "hub: the 239.10.$J.$K receiver stopped by '$st' with $u of $s datagrams"
				hsent=$((hsent + s)) huniq=$((huniq + u))
				P50S="$P50S $(jlat "$TMP/hub.recv$J.$K.out" p50)"
				P99S="$P99S $(jlat "$TMP/hub.recv$J.$K.out" p99)"
			done
		done
		for I in 1 2 3; do
			for K in $(seq 1 "$HUB_STREAMS"); do
				ss=$(kv "$TMP/hub.send$I.$K.out" seconds)
				ssecs_max=$(awk -v a="$ssecs_max" -v b="${ss:-0}" 'BEGIN { print (b > a ? b : a) }')
			done
		done
		hwin=$(awk -v s="$ssecs_max" -v h="$HUB_SECS" 'BEGIN { print (s > h ? s : h) }')
		HLOSS=$(awk -v s="$hsent" -v u="$huniq" 'BEGIN { printf "%.2f", (s > 0 ? 100 * (s - u) / s : 0) }')
		HCPU=$(pct "$hc0" "$hc1" "$hwin")
		for I in 1 2 3; do eval "GCPU_$I=\$(pct \"\$gc0_$I\" \"\$gc1_$I\" $hwin)"; done
		HHOST=$(hostbusy "$h0" "$h1")
		for p in $HP; do alive "$p" || note "hub: mcferry pid $p exited during the run"; done
		# mcferry prints a last stats line when it shuts down
		stop_many $HP
		HP=""
		HDROP=$(stat_sum "$TMP/hub.hub.err" mcferry_hub_channel_dropped_total)
		GDROP=0
		for I in 1 2 3; do
			GDROP=$((GDROP + $(stat_sum "$TMP/hub.gw$I.err" mcferry_gateway_channel_dropped_total)))
		done
		HIN=$(stat_sum "$TMP/hub.hub.err" mcferry_hub_channel_in_datagrams_total)
		HOUT=$(stat_sum "$TMP/hub.hub.err" mcferry_hub_channel_out_datagrams_total)
		echo "bench:   sent(to A)=$hsent unique=$huniq loss=$HLOSS% hub_cpu=$HCPU% gw_cpu=$GCPU_1/$GCPU_2/$GCPU_3% hub in=$HIN out=$HOUT drops=$HDROP gw drops=$GDROP host_busy=$HHOST%" >&2
		note "hub: hub stats in=$HIN out=$HOUT datagrams (expected $((3 * HUB_STREAMS * hcount)) in, $((6 * HUB_STREAMS * hcount)) out), hub drops=$HDROP, gateway drops=$GDROP"
		for f in hub.hub hub.gw1 hub.gw2 hub.gw3; do mcferry_log_notes "$f" "$TMP/$f.err"; done
		[ $HUB_OK = 1 ] && HUB_TABLE="### 4. Hub: 3 islands, $((3 * HUB_STREAMS)) channels of 10 Mbit/s

Each island's gateway exports its own $HUB_STREAMS channels and imports the other $((2 * HUB_STREAMS)); each island sends $HUB_STREAMS streams of 10 Mbit/s ($hpps pps × ${HUB_SECS} s, $SIZE B); island I1 receives the $((2 * HUB_STREAMS)) channels of I2 and I3. Hub: $((3 * HUB_STREAMS * 10)) Mbit/s in, $((6 * HUB_STREAMS * 10)) Mbit/s out.

| channels | Mbit/s into hub | loss % (I1 receivers) | p50 µs (median of receivers) | p99 µs (worst receiver) | hub CPU % | gateway CPU % I1 / I2 / I3 | hub RSS MiB | hub drops | gateway drops | host busy % |
|---|---|---|---|---|---|---|---|---|---|---|
| $((3 * HUB_STREAMS)) | $((3 * HUB_STREAMS * 10)) | $HLOSS | $(fmt "$(median $P50S)" %.0f) | $(fmt "$(maxof $P99S)" %.0f) | $HCPU | $GCPU_1 / $GCPU_2 / $GCPU_3 | $(awk -v k="$hrss" 'BEGIN { printf "%.1f", k / 1024 }') | $HDROP | $GDROP | $HHOST |
"
	fi
	stop_many $HP
	[ $HUB_OK = 1 ] || HUB_TABLE="### 4. Hub

failed (see notes)
"
fi

# =============================================================================
# 5. callgrind: user-space instructions per datagram per client
# =============================================================================

section_done hub
CG_LINE=""
if want callgrind; then
	if [ "$DO_CG" = auto ]; then
		if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then DO_CG=1; else DO_CG=0; fi
	fi
else
	DO_CG=0
fi
if [ "$DO_CG" = 1 ]; then
	echo "bench: callgrind: $CG_COUNT datagrams at ${CG_RATE}pps to $CG_CLIENTS clients" >&2
	tag=callgrind
	cg_ok=1
	bg "$tag.relay" "$NS_R" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
		"$MCF" relay "udp://@$GROUP:$UPORT?iface=$IF_SR" "tcp://@:$TPORT"
	cg_pid=$LASTPID
	wait_grep "$TMP/$tag.relay.err" ' ready' 1 30 "$cg_pid" || { cg_ok=0; hfail "callgrind: mcferry did not become ready under valgrind"; }
	if [ $cg_ok = 1 ]; then
		bg "$tag.recv" "$NS_C" "$RECV" tcp "$RELAY_C:$TPORT" --clients "$CG_CLIENTS" --size "$SIZE" \
			--expect "$CG_COUNT" --count "$CG_COUNT" --idle 5 \
			--duration $((CG_COUNT / CG_RATE + 40)) --connect-retry 20 --json
		cg_recv=$LASTPID
		wait_grep "$TMP/$tag.relay.err" 'client connected' "$CG_CLIENTS" 30 "$cg_pid" ||
			{ cg_ok=0; note "callgrind: clients did not connect"; }
	fi
	if [ $cg_ok = 1 ]; then
		sleep 0.5
		# Count only the steady state: zero the counters once every client is in.
		timeout 20 callgrind_control -z "$cg_pid" >"$TMP/cgctl.z" 2>&1 ||
			note "callgrind: callgrind_control -z failed; startup is included in the count"
		bg "$tag.send" "$NS_S" "$SEND" --count "$CG_COUNT" --rate "$CG_RATE" --size "$SIZE" \
			--ttl 1 --iface "$IF_S" --quiet "$GROUP:$UPORT"
		wait_pid "$LASTPID" $((CG_COUNT / CG_RATE + 20)) || note "callgrind: mcsend had to be stopped"
		wait_pid "$cg_recv" 25 || note "callgrind: mcrecv had to be stopped"
		# Dump now, before shutdown work, then stop.
		timeout 20 callgrind_control -d "$cg_pid" >"$TMP/cgctl.d" 2>&1 ||
			note "callgrind: callgrind_control -d failed; shutdown is included in the count"
	fi
	stop_pid "$cg_pid" 20
	[ -n "${cg_recv:-}" ] && stop_pid "$cg_recv" 5
	if [ $cg_ok = 1 ]; then
		# Prefer the explicit dump (cg.out.1); fall back to the exit dump.
		cgf=$TMP/cg.out.1
		[ -s "$cgf" ] || cgf=$TMP/cg.out
		ir=$(grep -E '^(summary|totals):' "$cgf" 2>/dev/null | head -1 | awk '{ print $2 }')
		uq=$(jnum "$TMP/$tag.recv.out" unique)
		if [ -n "$ir" ] && [ -n "$uq" ] && [ "$uq" -gt 0 ]; then
			CG_LINE=$(awk -v ir="$ir" -v uq="$uq" -v c="$CG_COUNT" -v n="$CG_CLIENTS" 'BEGIN {
				printf "%d datagrams x %d clients at %d pps, %d delivered: %.0f Ir total, **%.0f Ir per delivered datagram per client** (%.0f per datagram per client nominal)",
					c, n, '"$CG_RATE"', uq, ir, ir / uq, ir / (c * n) }')
			[ "$uq" -lt $((CG_COUNT * CG_CLIENTS)) ] &&
				note "callgrind: only $uq of $((CG_COUNT * CG_CLIENTS)) datagrams delivered under valgrind"
		else
			hfail "callgrind: no result (Ir='${ir:-}' unique='${uq:-}'); BENCH_KEEP=1 keeps the logs"
		fi
	fi
fi

section_done callgrind

# ---- report ---------------------------------------------------------------------

T_END=$(now_ns)
echo "bench: done in $(( (T_END - T_START) / 1000000000 )) s" >&2
echo
echo "## mcferry benchmark ($MATRIX matrix, $(nproc) CPUs, $(uname -r), $(( (T_END - T_START) / 1000000000 )) s)"
echo
for t in "$FAN_TABLE" "$INGEST_TABLE" "$CHAIN_TABLE" "$HUB_TABLE"; do
	[ -n "$t" ] && printf '%s\n' "$t"
done
if [ -n "$CG_LINE" ]; then
	printf '### 5. callgrind (user-space instructions of mcferry)\n\n%s\n\n' "$CG_LINE"
fi
if [ -n "$NOTES" ]; then
	printf 'Notes:\n%s' "$NOTES"
fi
if [ -n "$HFAIL" ]; then
	printf '\nThe harness failed:\n%s' "$HFAIL" >&2
	exit 1
fi
exit 0
