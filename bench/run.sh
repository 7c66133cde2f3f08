#!/bin/bash
# mcferry benchmark: fan-out of one multicast stream to N TCP clients.
#
#   source ns                 relay ns                        clients ns
#   mcsend -> 239.9.9.9:5000  mcferry relay (or socat)        mcrecv tcp, N clients
#   PsS 10.91.1.2 ========== PsR 10.91.1.1   PcR 10.91.2.1 ======= PcC 10.91.2.2
#
# Prints a Markdown table on stdout (progress and notes go to stderr, the
# notes are repeated on stdout under the table). This is a benchmark, not a
# test: it asserts nothing about speed and exits 0 unless the harness itself
# failed (a process did not start, a namespace could not be made).
#
# Usage: ./bench/run.sh [BUILD_DIR]          (make bench runs ./bench/run.sh build)
# Environment (all optional):
#   BENCH_MATRIX=default|tiny  tiny: clients "1 10", 2 s per run, small callgrind run
#   BENCH_CLIENTS="1 100 1000" client counts for mcferry rows
#   BENCH_RATE=1900            input datagrams per second (1316 B each: ~20 Mbit/s)
#   BENCH_SECONDS=10           input duration per run
#   BENCH_REPEAT=3             runs per row, round-robin; the table shows medians (tiny: 1)
#   BENCH_SOCAT=1              0 skips the socat comparison row
#   BENCH_CALLGRIND=auto       auto|1|0: instructions per datagram per client under callgrind
#   BENCH_CG_COUNT=2000 BENCH_CG_CLIENTS=10 BENCH_CG_RATE=400   the callgrind workload
#   BENCH_BUDGET=330           start no new run after this many seconds
#   BENCH_KEEP=1               keep the logs directory (path printed at the end)
#   BENCH_SYNCOOKIES=1         leave SYN cookies on in the relay namespace (see below)
#
# Everything it starts runs inside its own namespaces (prefix mfb<pid>), with
# no route out of them; every wait is bounded; on exit, Ctrl-C or TERM it
# kills exactly the PIDs it started and deletes exactly its namespaces.
set -u

BUILD=${1:-build}
MATRIX=${BENCH_MATRIX:-default}
case $MATRIX in
tiny)
	CLIENTS=${BENCH_CLIENTS:-"1 10"}
	SECS=${BENCH_SECONDS:-2}
	CG_COUNT=${BENCH_CG_COUNT:-300}
	CG_CLIENTS=${BENCH_CG_CLIENTS:-10}
	REPEAT=${BENCH_REPEAT:-1}
	;;
default)
	CLIENTS=${BENCH_CLIENTS:-"1 100 1000"}
	SECS=${BENCH_SECONDS:-10}
	CG_COUNT=${BENCH_CG_COUNT:-2000}
	CG_CLIENTS=${BENCH_CG_CLIENTS:-10}
	REPEAT=${BENCH_REPEAT:-3}
	;;
*)
	echo "bench: BENCH_MATRIX must be default or tiny, not '$MATRIX'" >&2
	exit 2
	;;
esac
RATE=${BENCH_RATE:-1900}
CG_RATE=${BENCH_CG_RATE:-400}
DO_SOCAT=${BENCH_SOCAT:-1}
DO_CG=${BENCH_CALLGRIND:-auto}
SIZE=1316
IDLE=2
HZ=$(getconf CLK_TCK)
COUNT=$((RATE * SECS))
GROUP=239.9.9.9
UPORT=5000
TPORT=7000

die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it builds network namespaces); try: sudo make bench"
for t in ip awk; do command -v $t >/dev/null || die "missing '$t'"; done
[ -d "$BUILD" ] || die "no build directory '$BUILD' (run make first)"
BIN=$(cd "$BUILD" && pwd)
MCF=$BIN/mcferry
SEND=$BIN/tests/tools/mcsend
RECV=$BIN/tests/tools/mcrecv
for f in "$MCF" "$SEND" "$RECV"; do
	[ -x "$f" ] || die "missing $f (run make; mcsend/mcrecv come from tests/tools)"
done
if [ "$DO_SOCAT" = 1 ] && ! command -v socat >/dev/null; then
	echo "bench: socat not found; skipping the socat comparison" >&2
	DO_SOCAT=0
fi

# 1000 clients need 1000+ descriptors in mcferry and in mcrecv.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

P=mfb$$
NS_S=${P}s NS_R=${P}r NS_C=${P}c
IF_S=${P}sS IF_SR=${P}sR IF_CR=${P}cR IF_C=${P}cC
RELAY_C=10.91.2.1
TMP=$(mktemp -d /tmp/mcferry-bench.XXXXXX)
PIDS=""
NSLIST=""
NOTES=""

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
bg() { # bg LOGNAME NS CMD...: start CMD inside NS (or root ns if NS is -)
	local log=$TMP/$1 ns=$2
	shift 2
	if [ "$ns" = - ]; then
		"$@" >"$log.out" 2>"$log.err" </dev/null &
	else
		# ip netns exec execs CMD itself: $! is CMD's pid.
		ip netns exec "$ns" "$@" >"$log.out" 2>"$log.err" </dev/null &
	fi
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

cpu_ticks() { # utime+stime of PID in clock ticks
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

status_kb() { # status_kb PID FIELD: VmRSS / VmHWM in kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

jnum() { # jnum FILE KEY: first top-level numeric "KEY": value of mcrecv's JSON
	sed 's/"per_client".*//' "$1" | grep -o "\"$2\": *[0-9.]*" | head -1 | sed 's/.*: *//'
}

jlat() { # jlat FILE p50|p99|max
	sed 's/"per_client".*//; s/.*"latency_us": *{//' "$1" | grep -o "\"$2\": *[0-9.]*" |
		head -1 | sed 's/.*: *//'
}

stat_field() { # stat_field LOG KEY: KEY=value from mcferry's last stats line
	grep '^stats relay=' "$1" 2>/dev/null | tail -1 | grep -o "$2=[0-9]*" | cut -d= -f2
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

tcpext() { # tcpext NAME...: TcpExt counters of the relay namespace, "NAME=V ..."
	ip netns exec "$NS_R" cat /proc/net/netstat 2>/dev/null | awk -v want="$*" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) name[i] = $i; h = 1; next }
		$1 == "TcpExt:" && h { for (i = 2; i <= NF; i++) v[name[i]] = $i }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%s=%s ", w[i], v[w[i]] + 0 }'
}

wait_listen() { # wait_listen SECONDS PID: until something listens on TPORT in the relay ns
	local i=0
	while [ $i -lt $(($1 * 10)) ]; do
		[ -n "$(ip netns exec "$NS_R" ss -Hltn "sport = :$TPORT" 2>/dev/null)" ] && return 0
		alive "$2" || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

hostcpu() { # "busy total" jiffies of all CPUs from /proc/stat (busy = all but idle+iowait)
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

pct() { # pct TICKS0 TICKS1 SECONDS: CPU in % of one core
	awk -v a="$1" -v b="$2" -v s="$3" -v hz="$HZ" \
		'BEGIN { if (a == "" || b == "" || s <= 0) print "-"; else printf "%.1f", 100 * (b - a) / hz / s }'
}

note() { NOTES="$NOTES- $*
"; echo "bench: note: $*" >&2; }

fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "" || x == "-") print "-"; else printf f, x }'; }

# ---- topology --------------------------------------------------------------

echo "bench: building namespaces $NS_S (source) $NS_R (relay) $NS_C (clients)" >&2
for ns in $NS_S $NS_R $NS_C; do
	ip netns add "$ns" || die "cannot create namespace $ns"
	NSLIST="$NSLIST $ns"
	ip -n "$ns" link set lo up
done
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_SR" netns "$NS_R" || die "veth failed"
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_CR" netns "$NS_R" || die "veth failed"
ip -n "$NS_S" addr add 10.91.1.2/24 dev "$IF_S"
ip -n "$NS_R" addr add 10.91.1.1/24 dev "$IF_SR"
ip -n "$NS_R" addr add 10.91.2.1/24 dev "$IF_CR"
ip -n "$NS_C" addr add 10.91.2.2/24 dev "$IF_C"
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_R" link set "$IF_SR" up
ip -n "$NS_R" link set "$IF_CR" up
ip -n "$NS_C" link set "$IF_C" up
# Multicast leaves the source namespace only through its veth; no namespace
# has a default route, so nothing can reach the host's own networks.
ip -n "$NS_S" route add 224.0.0.0/4 dev "$IF_S" || die "multicast route failed"
# The only kernel setting the benchmark changes:
# SYN cookies off in the relay namespace (per-namespace sysctl). 1000 clients
# connecting at once overflow mcferry's listen backlog (128); with cookies a
# client whose final ACK is dropped believes it is connected while the relay
# never hears of it again (the relay speaks first, the client only reads), so
# the row would silently measure fewer clients. Without cookies the kernel
# retransmits the SYN-ACK and every client gets in. BENCH_SYNCOOKIES=1 keeps
# the kernel default to reproduce that.
if [ "${BENCH_SYNCOOKIES:-0}" != 1 ]; then
	ip netns exec "$NS_R" sysctl -qw net.ipv4.tcp_syncookies=0 ||
		echo "bench: could not turn SYN cookies off in $NS_R" >&2
fi

# ---- one row ----------------------------------------------------------------
# run_row mcferry|socat CLIENTS: one run; sets R_* (figures), notes oddities.

run_row() {
	local kind=$1 n=$2 tag=$1-$2.r${REP:-1} rpid rlog i
	local recv_pid send_pid recv_t0 cpu0 cpu1 rc0 rc1="" rcv h0 h1="" t0 rss rssmax=0 hwm ns0 ns1
	echo "bench: [${REP:-1}/$REPEAT] $kind clients=$n rate=${RATE}pps seconds=$SECS" >&2
	rm -f "$TMP/$tag.ready"
	ns0=$(tcpext ListenOverflows ListenDrops SyncookiesSent)
	if [ "$kind" = mcferry ]; then
		bg "$tag.relay" "$NS_R" "$MCF" relay --stats 1 \
			"udp://@$GROUP:$UPORT?iface=$IF_SR" "tcp://@:$TPORT"
		rpid=$LASTPID
		rlog=$TMP/$tag.relay.err
		wait_grep "$rlog" ' ready' 1 10 "$rpid" ||
			{ cat "$rlog" >&2; stop_pid "$rpid"; note "$tag: mcferry did not become ready"; return 1; }
	else
		# -d: warnings only (-d -d logs every datagram, which costs socat CPU).
		bg "$tag.relay" "$NS_R" socat -d -u \
			"UDP4-RECV:$UPORT,ip-add-membership=$GROUP:$IF_SR,reuseaddr" \
			"TCP4-LISTEN:$TPORT,reuseaddr"
		rpid=$LASTPID
		rlog=$TMP/$tag.relay.err
		wait_listen 10 "$rpid" ||
			{ cat "$rlog" >&2; stop_pid "$rpid"; note "$tag: socat did not start listening"; return 1; }
	fi

	recv_t0=$(now_ns)
	bg "$tag.recv" "$NS_C" "$RECV" tcp "$RELAY_C:$TPORT" --clients "$n" --size "$SIZE" \
		--expect "$COUNT" --count "$COUNT" --idle "$IDLE" --duration $((SECS + 30)) \
		--connect-retry 30 --ready-file "$TMP/$tag.ready" --json
	recv_pid=$LASTPID
	i=0
	while [ ! -e "$TMP/$tag.ready" ] && alive "$recv_pid" && [ $i -lt 400 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if [ ! -e "$TMP/$tag.ready" ]; then
		note "$tag: mcrecv clients did not all connect within 40 s"
		cat "$TMP/$tag.recv.err" >&2
		stop_pid "$recv_pid"; stop_pid "$rpid"
		return 1
	fi
	# A client's connect() returns before the relay has accepted it: wait
	# until the relay itself has taken every client.
	if [ "$kind" = mcferry ]; then
		wait_grep "$rlog" 'client connected' "$n" 30 "$rpid" ||
			note "$tag: after 30 s mcferry had accepted only $(grep -c 'client connected' "$rlog") of $n clients that the kernel had connected"
	fi
	sleep 0.5

	cpu0=$(cpu_ticks "$rpid")
	rc0=$(cpu_ticks "$recv_pid")
	h0=$(hostcpu)
	t0=$(now_ns)
	bg "$tag.send" "$NS_S" "$SEND" --count "$COUNT" --rate "$RATE" --size "$SIZE" \
		--ttl 1 --iface "$IF_S" --quiet "$GROUP:$UPORT"
	send_pid=$LASTPID
	# Sample the relay's RSS and the receiver's CPU while data flows, until
	# the receiver ends (all data in, every client closed, or $IDLE s idle);
	# hard limit SECS + 35 (mcrecv's own --duration is SECS + 30).
	i=0
	while alive "$recv_pid" && [ $i -lt $(((SECS + 35) * 10)) ]; do
		rss=$(status_kb "$rpid" VmRSS)
		[ "${rss:-0}" -gt "$rssmax" ] && rssmax=$rss
		rcv=$(cpu_ticks "$recv_pid")
		[ -n "$rcv" ] && rc1=$rcv && h1=$(hostcpu)
		sleep 0.1
		i=$((i + 1))
	done
	wait_pid "$send_pid" 5 || note "$tag: mcsend had to be stopped"
	wait_pid "$recv_pid" 5 || note "$tag: mcrecv had to be stopped"
	cpu1=$(cpu_ticks "$rpid")
	hwm=$(status_kb "$rpid" VmHWM)
	alive "$rpid" || note "$tag: the relay exited during the run (see its log)"
	stop_pid "$rpid" 5
	ns1=$(tcpext ListenOverflows ListenDrops SyncookiesSent)

	# ---- figures
	local out=$TMP/$tag.recv.out sent ssecs uniq bytes p50 p99 stopr conn rsecs win
	sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$TMP/$tag.send.out")
	ssecs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$TMP/$tag.send.out")
	uniq=$(jnum "$out" unique)
	bytes=$(jnum "$out" bytes)
	conn=$(jnum "$out" connected_clients)
	rsecs=$(jnum "$out" seconds)
	stopr=$(sed -n 's/.*"stop_reason": *"\([a-z-]*\)".*/\1/p' "$out")
	p50=$(jlat "$out" p50)
	p99=$(jlat "$out" p99)
	if [ -z "$sent" ] || [ -z "$ssecs" ] || [ -z "$uniq" ] || [ -z "$rsecs" ]; then
		note "$tag: missing output (mcsend: '$(cat "$TMP/$tag.send.out" "$TMP/$tag.send.err" | tr '\n' ' ')' mcrecv: '$(head -c 300 "$TMP/$tag.recv.err" | tr '\n' ' ')')"
		return 1
	fi
	# Delivery window: from the first datagram sent to the last one received
	# (mcrecv's end, less its idle wait if that is what stopped it); never
	# shorter than the send itself.
	win=$(awk -v r0="$recv_t0" -v rs="$rsecs" -v t0="$t0" -v st="$stopr" -v idle="$IDLE" -v ss="$ssecs" 'BEGIN {
		w = (r0 - t0) / 1e9 + rs - (st == "idle" ? idle : 0); printf "%.3f", (w > ss ? w : ss) }')
	R_GBPS=$(awk -v b="$bytes" -v w="$win" 'BEGIN { printf "%.4f", b * 8 / w / 1e9 }')
	R_LOSS=$(awk -v u="$uniq" -v s="$sent" -v n="$n" 'BEGIN { e = s * n; printf "%.3f", (e > 0 ? 100 * (e - u) / e : 0) }')
	R_CPU=$(pct "$cpu0" "$cpu1" "$win")
	R_RCPU=$(pct "$rc0" "$rc1" "$win")
	R_HOST=$(echo "$h0 ${h1:-}" | awk 'NF == 4 && $4 > $2 { printf "%.0f", 100 * ($3 - $1) / ($4 - $2); exit } { print "-" }')
	[ "${hwm:-0}" -gt "$rssmax" ] && rssmax=$hwm
	R_RSS=$(awk -v k="$rssmax" 'BEGIN { printf "%.1f", k / 1024 }')
	R_P50=$p50 R_P99=$p99
	if [ "$kind" = mcferry ]; then
		R_DROPS=$(stat_field "$rlog" drops)
		R_CUTS=$(stat_field "$rlog" cutoffs)
		local indg outdg w
		indg=$(stat_field "$rlog" in_dgrams)
		[ -n "$indg" ] && [ "$indg" != "$sent" ] &&
			note "$tag: mcferry read $indg of $sent datagrams (the rest were lost before the relay, e.g. UDP receive buffer)"
		outdg=$(stat_field "$rlog" out_dgrams)
		[ -n "$outdg" ] && [ "$outdg" != "$uniq" ] &&
			note "$tag: mcferry counted out_dgrams=$outdg but the clients received $uniq unique datagrams"
		w=$(grep -cE '^(warn|error)' "$rlog")
		if [ "$w" -gt 0 ]; then
			note "$tag: $w warn/error lines in mcferry's log: $(grep -E '^(warn|error)' "$rlog" | sed 's/ c=[0-9]*//; s/ peer=[^ ]*//; s/ queued=[0-9]*//; s/ sent=[0-9]*//' | sort | uniq -c | sort -rn | head -3 | sed 's/^ *//' | tr '\n' ';')"
		fi
	else
		R_DROPS=- R_CUTS=-
		grep -q ' E ' "$rlog" && note "$tag: socat logged errors: $(grep ' E ' "$rlog" | head -2 | tr '\n' ';')"
	fi
	[ "$stopr" = count ] || note "$tag: mcrecv stopped by '$stopr' (connected=$conn/$n, unique=$uniq of $((sent * n)))"
	if [ "$ns0" != "$ns1" ]; then
		note "$tag: the clients' connect burst overflowed the relay's listen queue: $(echo "$ns0 $ns1" | tr ' ' '\n' | awk -F= 'NF == 2 {
			if (!($1 in a)) a[$1] = $2; else if ($2 != a[$1]) printf "%s +%d ", $1, $2 - a[$1] }')(kernel counters of the relay namespace; SYN cookies $( [ "${BENCH_SYNCOOKIES:-0}" = 1 ] && echo on || echo 'off, so the kernel retried them'))"
	fi
	awk -v c="$R_RCPU" 'BEGIN { exit !(c >= 90) }' &&
		note "$tag: the receiver (mcrecv, one thread) used $R_RCPU% of a core: the figures of this row are bounded by the load generator/machine, not only by the relay"
	echo "bench:   sent=$sent in ${ssecs}s window=${win}s unique=$uniq bytes=$bytes relay_cpu=$R_CPU% recv_cpu=$R_RCPU% host_busy=$R_HOST% rss=${R_RSS}MiB p50=${p50}us p99=${p99}us stop=$stopr" >&2
	return 0
}

# ---- the matrix --------------------------------------------------------------
# Every configuration runs REPEAT times, round-robin (so a burst of noise from
# other tenants hits different rows, not one row three times); the table shows
# the median of each column over the repetitions (drops and cutoffs: the sum,
# loss: the worst).

median() { # median V... (ignores "-" and empty)
	printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { v[n++] = $1 + 0 }
		END { if (!n) { print "-"; exit } for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		print (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) }'
}
maxof() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { if (!n++ || $1 + 0 > m) m = $1 + 0 } END { print n ? m : "-" }'; }
sumof() { printf '%s\n' "$@" | awk '$1 != "" && $1 != "-" { s += $1; n++ } END { print n ? s : "-" }'; }

T_START=$(now_ns)
# No new run starts after BUDGET seconds, so that even a run where every
# wait hits its limit ends well inside 10 minutes.
BUDGET=${BENCH_BUDGET:-330}
CONFIGS=""
for n in $CLIENTS; do CONFIGS="$CONFIGS mcferry:$n"; done
[ "$DO_SOCAT" = 1 ] && CONFIGS="$CONFIGS socat:1"
declare -A V
for rep in $(seq 1 "$REPEAT"); do
	for cfg in $CONFIGS; do
		REP=$rep
		if [ $(( ($(now_ns) - T_START) / 1000000000 )) -ge "$BUDGET" ]; then
			note "time budget (${BUDGET} s) used up: skipped $cfg run $rep"
			continue
		fi
		if run_row "${cfg%%:*}" "${cfg#*:}"; then
			for k in GBPS LOSS P50 P99 CPU RSS DROPS CUTS RCPU HOST; do
				eval "V[$cfg.$k]=\"\${V[$cfg.$k]:-} \$R_$k\""
			done
			V[$cfg.ok]=$((${V[$cfg.ok]:-0} + 1))
		fi
	done
done

ROWS=""
for cfg in $CONFIGS; do
	[ -n "${V[$cfg.ok]:-}" ] || { ROWS="$ROWS| ${cfg%%:*} | ${cfg#*:} | failed (see notes) | - | - | - | - | - | - | - | - | - |
"; continue; }
	for k in GBPS P50 P99 CPU RSS RCPU HOST; do
		eval "M_$k=\$(median \${V[$cfg.$k]})"
	done
	M_LOSS=$(maxof ${V[$cfg.LOSS]}) M_DROPS=$(sumof ${V[$cfg.DROPS]}) M_CUTS=$(sumof ${V[$cfg.CUTS]})
	for k in GBPS LOSS P50 P99 CPU RSS; do eval "V[$cfg.m$k]=\$M_$k"; done
	ROWS="$ROWS| ${cfg%%:*} | ${cfg#*:} | $(fmt "$M_GBPS" %.3f) | $(fmt "$M_LOSS" %.2f) | $(fmt "$M_P50" %.0f) | $(fmt "$M_P99" %.0f) | $(fmt "$M_CPU" %.1f) | $(fmt "$M_RSS" %.1f) | $M_DROPS | $M_CUTS | $(fmt "$M_RCPU" %.0f) | $(fmt "$M_HOST" %.0f) |
"
	[ "${V[$cfg.ok]}" = "$REPEAT" ] || note "$cfg: only ${V[$cfg.ok]} of $REPEAT repetitions produced figures"
done
RATIO=""
if [ -n "${V[socat:1.mGBPS]:-}" ] && [ -n "${V[mcferry:1.mGBPS]:-}" ]; then
	ratio() { awk -v a="${V[mcferry:1.m$1]}" -v b="${V[socat:1.m$1]}" \
		'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
	RATIO="| mcferry/socat | 1 | $(ratio GBPS) | $(fmt "${V[mcferry:1.mLOSS]}" %.2f) vs $(fmt "${V[socat:1.mLOSS]}" %.2f) | $(ratio P50) | $(ratio P99) | $(ratio CPU) | $(ratio RSS) | - | - | - | - |
"
fi

# ---- callgrind: user-space instructions per datagram per client --------------

CG_LINE=""
if [ "$DO_CG" = auto ]; then
	if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then DO_CG=1; else DO_CG=0; fi
fi
if [ "$DO_CG" = 1 ] && [ $(( ($(now_ns) - T_START) / 1000000000 )) -ge $((BUDGET + 70)) ]; then
	note "time budget used up: skipped the callgrind run"
	DO_CG=0
fi
if [ "$DO_CG" = 1 ]; then
	echo "bench: callgrind: $CG_COUNT datagrams at ${CG_RATE}pps to $CG_CLIENTS clients" >&2
	tag=callgrind
	cg_ok=1
	bg "$tag.relay" "$NS_R" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
		"$MCF" relay "udp://@$GROUP:$UPORT?iface=$IF_SR" "tcp://@:$TPORT"
	cg_pid=$LASTPID
	wait_grep "$TMP/$tag.relay.err" ' ready' 1 30 "$cg_pid" || { cg_ok=0; note "callgrind: mcferry did not become ready under valgrind"; }
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
				printf "callgrind: %d datagrams x %d clients, %d delivered: %.0f Ir total, %.0f Ir per delivered datagram per client (%.0f per datagram per client nominal)",
					c, n, uq, ir, ir / uq, ir / (c * n) }')
			[ "$uq" -lt $((CG_COUNT * CG_CLIENTS)) ] &&
				note "callgrind: only $uq of $((CG_COUNT * CG_CLIENTS)) datagrams delivered under valgrind"
		else
			note "callgrind: no result (Ir='${ir:-}' unique='${uq:-}'); BENCH_KEEP=1 keeps the logs"
		fi
	fi
fi

# ---- report ---------------------------------------------------------------------

T_END=$(now_ns)
echo "bench: done in $(( (T_END - T_START) / 1000000000 )) s" >&2
cat <<EOF

## mcferry fan-out benchmark ($MATRIX matrix, $(nproc) CPUs, $(uname -r))

Input per run: one multicast stream of $SIZE-byte datagrams, $RATE pps ($(awk -v r="$RATE" -v s="$SIZE" 'BEGIN { printf "%.1f", r * s * 8 / 1e6 }') Mbit/s) for ${SECS} s = $COUNT datagrams.
Each row: median of $REPEAT run(s), round-robin (loss: worst run; drops, cutoffs: sum).

| relay | clients | delivered Gbit/s | loss % | p50 µs | p99 µs | relay CPU % | relay RSS MiB | drops | cutoffs | mcrecv CPU % | host busy % |
|---|---|---|---|---|---|---|---|---|---|---|---|
$ROWS$RATIO
EOF
[ -n "$CG_LINE" ] && printf '%s\n' "$CG_LINE"
if [ -n "$NOTES" ]; then
	printf '\nNotes:\n%s' "$NOTES"
fi
exit 0
