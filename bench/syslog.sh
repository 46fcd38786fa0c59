#!/usr/bin/env bash
# Syslog benchmark of sluice with the shared harness (../shared/bench/syslog):
# UDP with run_syslog_peers.sh (sluice as the custom peer, beside rsyslog in
# the same run), then TCP with octet counting through the same sender
# (syslogsend -proto tcp -framing octet), measured the same way: sluice
# pinned to CPU 0, the sender to CPU 1, DUR s, lines written counted after
# the drain, CPU = utime+stime over [sender start, drained], peak RSS = VmHWM.
#
#   sudo bench/syslog.sh                                   # sluice + rsyslog-json, UDP sweep, then TCP
#   PEERS=custom RATES="100000 200000" sudo bench/syslog.sh
#   SKIP_UDP=1 sudo bench/syslog.sh                        # TCP only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench/syslog}
BIN=${BIN:-/tmp/sluice-bench/sluice}
OUT=${OUT:-$ROOT/bench/results/syslog-$(date +%Y%m%d-%H%M%S)}
DUR=${DUR:-10}
mkdir -p "$(dirname "$BIN")" "$OUT"
(cd "$ROOT" && go build -o "$BIN" ./cmd/sluice)

# sluice: syslog only, file output on the harness's tmpfs work dir.
sluice_env="SLUICE_NETFLOW_LISTEN= SLUICE_IPFIX_LISTEN= SLUICE_SFLOW_LISTEN= SLUICE_SYSLOG_TLS_LISTEN= \
SLUICE_HTTP_LISTEN=127.0.0.1:19158 SLUICE_NETFLOW_TEMPLATES_PERSIST=false ${SLUICE_EXTRA_ENV:-}"

if [ -z "${SKIP_UDP:-}" ]; then
	export PEERS=${PEERS:-"custom rsyslog-json"}
	export RATES=${RATES:-"100000 150000 200000 250000 0"}
	export OUT DUR
	export CUSTOM_START="env $sluice_env SLUICE_SYSLOG_UDP_LISTEN=127.0.0.1:\$PORT SLUICE_SYSLOG_TCP_LISTEN= \
SLUICE_OUTPUT_FILE_DIR=\$WORK/out SLUICE_DATA_DIR=\$WORK/state $BIN run"
	export CUSTOM_COUNT='cat $WORK/out/*.ndjson 2>/dev/null | wc -l'
	"$SHARED/run_syslog_peers.sh"
fi

# TCP, octet counting, sender at its maximum.
HZ=$(getconf CLK_TCK)
WORK=/dev/shm/sluice-syslog-tcp
PORT=${TCP_PORT:-15514}
(cd "$SHARED/syslogsend" && go build -o "$WORK.syslogsend" .)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
echo "transport,framing,offered,sent,written,lines_per_s,loss_pct,cpu_pct,peak_rss_mb,seconds" >"$OUT/tcp.csv"
for framing in ${FRAMINGS:-octet newline}; do
	rm -rf "$WORK" && mkdir -p "$WORK"
	env $sluice_env SLUICE_SYSLOG_UDP_LISTEN= SLUICE_SYSLOG_TCP_LISTEN=127.0.0.1:$PORT \
		SLUICE_OUTPUT_FILE_DIR=$WORK/out SLUICE_DATA_DIR=$WORK/state taskset -c 0 "$BIN" run 2>"$OUT/sluice-tcp-$framing.log" &
	SP=$!
	sleep 1.5
	t0=$(ticks $SP)
	start=$(date +%s.%N)
	sent=$(GOMAXPROCS=1 taskset -c 1 "$WORK.syslogsend" -file "$SHARED/mix.log" -port "$PORT" -proto tcp -framing "$framing" \
		-rate 0 -duration "${DUR}s" 2>&1 | grep -oE 'lines_sent=[0-9]+' | cut -d= -f2)
	# Drained when sluice has written every line sent (its own counter,
	# polled every 0.1 s: counting lines in the files takes seconds and
	# would be counted as sluice's time), or the count stops growing.
	written_now() { curl -s http://127.0.0.1:19158/metrics | awk '/^sluice_output_events_total\{output="file"\}/ { printf "%d", $2 }'; }
	prev=-1 same=0
	for _ in $(seq 600); do
		n=$(written_now)
		[ "${n:-0}" -ge "${sent:-0}" ] && break
		if [ "$n" = "$prev" ]; then same=$((same + 1)); [ $same -ge 10 ] && break; else same=0; fi
		prev=$n
		sleep 0.1
	done
	t1=$(ticks $SP)
	end=$(date +%s.%N)
	rss=$(awk '/^VmHWM:/ { print int($2 / 1024) }' /proc/$SP/status)
	kill -TERM $SP && wait $SP || true
	written=$(cat "$WORK"/out/*.ndjson 2>/dev/null | wc -l)
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
	cpu=$(awk -v a="$t0" -v b="$t1" -v s="$secs" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }')
	loss=$(awk -v s="${sent:-0}" -v w="$written" 'BEGIN { if (s > 0) printf "%.3f", (s - w) / s * 100; else print "NA" }')
	lps=$(awk -v w="$written" -v s="$secs" 'BEGIN { printf "%.0f", w / s }')
	echo "tcp,$framing,max,${sent:-NA},$written,$lps,$loss,$cpu,$rss,$secs" | tee -a "$OUT/tcp.csv"
	head -c 2000 "$WORK"/out/*.ndjson >"$OUT/sample-tcp-$framing.json" 2>/dev/null || true
done
echo "results: $OUT"
