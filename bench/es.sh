#!/usr/bin/env bash
# Elasticsearch benchmark: documents/s that sluice gets into a real local
# node (flows from ../shared/bench/flowgen), against the node's raw bulk
# capacity measured in the same run by bench/esload sending the same
# pre-serialized documents (a corpus sluice wrote) in the same bulk sizes,
# concurrency and compression. Also the CPU of sluice, the loader and the
# node over each measuring window (100% = one core).
#
#   bench/es.sh                        # defaults below
#   DUR=60 RATE=20000 ROUNDS=4 bench/es.sh
#
# Method: one node (scripts/es-node/start, heap ES_HEAP), templates from
# `sluice setup elasticsearch`, a WARMUP s warm-up (the node gets faster
# for minutes). Raw: esload for DUR s into
# sluice-flows-raw. sluice: file output off, flowgen offers RATE flows/s (a
# little more than the node takes, so the node is the bottleneck; offering
# far more only burns the 2 cores it shares with the node on datagrams
# sluice must drop) for DUR s; documents/s = growth of
# sluice_output_events_total{output="elasticsearch"} over the window, after
# 5 s of filling. ROUNDS rounds alternate the order. Results:
# bench/results/es-<stamp>/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
DUR=${DUR:-30}
RATE=${RATE:-25000}
EXPORTERS=${EXPORTERS:-4}
PROTO=${PROTO:-v9}
DOCS=${DOCS:-2000}
BYTES=${BYTES:-4194304}
WORKERS=${WORKERS:-2}
GZIP=${GZIP:-true}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-60}
export ES_HEAP=${ES_HEAP:-1g}
WORK=${WORK:-/tmp/sluice-esbench}
OUT=${OUT:-$ROOT/bench/results/es-$(date +%Y%m%d-%H%M%S)}
HZ=$(getconf CLK_TCK)

log() { echo "[$(date +%T)] $*" >&2; }
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
BIN=$WORK/bin
mkdir -p "$BIN"
(cd "$ROOT" && go build -o "$BIN/sluice" ./cmd/sluice && go build -o "$BIN/esload" ./bench/esload)
(cd "$SHARED/flowgen" && go build -o "$BIN/flowgen" .)

# utime+stime ticks of a process group
gticks() {
	local t=0 p v
	for p in $(pgrep -g "$1"); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
	done
	echo $t
}
pticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
pct() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }'; }
metric() { curl -s "http://127.0.0.1:19156/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%d", s }'; }

log "starting the node (heap $ES_HEAP)"
URL=$("$ROOT/scripts/es-node/start" 9270-9299 "$WORK/node" | tail -n1)
ESPG=$(cat "$WORK/node/pid")
trap '"$ROOT/scripts/es-node/stop" "$WORK/node" >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true' EXIT
log "node $URL (process group $ESPG)"
curl -s "$URL" | grep -E '"number"' >"$OUT/es-version.txt" || true

common=(SLUICE_NETFLOW_LISTEN=127.0.0.1:12055 SLUICE_IPFIX_LISTEN= SLUICE_SFLOW_LISTEN= SLUICE_SYSLOG_UDP_LISTEN= SLUICE_SYSLOG_TCP_LISTEN= SLUICE_HTTP_LISTEN=127.0.0.1:19156
	SLUICE_NETFLOW_TEMPLATES_PERSIST=false SLUICE_OUTPUT_ELASTICSEARCH_BULK_MAX_DOCS=$DOCS
	SLUICE_OUTPUT_ELASTICSEARCH_BULK_MAX_BYTES=$BYTES SLUICE_OUTPUT_ELASTICSEARCH_BULK_WORKERS=$WORKERS
	SLUICE_OUTPUT_ELASTICSEARCH_COMPRESS=$GZIP)

log "corpus: sluice's own documents from flowgen (file output)"
env "${common[@]}" SLUICE_DATA_DIR="$WORK/corpus" SLUICE_OUTPUT_FILE_DIR="$WORK/corpus" "$BIN/sluice" run 2>"$OUT/corpus.log" &
SP=$!
sleep 1
"$BIN/flowgen" -port 12055 -rate 20000 -duration 5s -exporters "$EXPORTERS" -proto "$PROTO" >/dev/null 2>&1
sleep 1
kill -TERM $SP && wait $SP || true
cat "$WORK"/corpus/sluice-flows-*.ndjson >"$WORK/corpus.ndjson"
log "corpus: $(wc -l <"$WORK/corpus.ndjson") documents, $(du -h "$WORK/corpus.ndjson" | cut -f1)"

SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES=$URL "$BIN/sluice" setup elasticsearch >"$OUT/setup.txt" 2>&1

log "warm-up: esload for ${WARMUP}s (JIT, caches, first merges), then deleted"
"$BIN/esload" -url "$URL" -file "$WORK/corpus.ndjson" -index sluice-flows-warmup -docs "$DOCS" -bytes "$BYTES" \
	-workers "$WORKERS" -gzip="$GZIP" -duration "${WARMUP}s" >"$OUT/warmup.json" 2>&1
curl -s -XDELETE "$URL/sluice-flows-warmup" >/dev/null
sleep 5

raw_run() { # $1 = round
	log "raw #$1: esload for ${DUR}s"
	local e0 e1 l0 l1 lp
	e0=$(gticks "$ESPG")
	"$BIN/esload" -url "$URL" -file "$WORK/corpus.ndjson" -index sluice-flows-raw -docs "$DOCS" -bytes "$BYTES" \
		-workers "$WORKERS" -gzip="$GZIP" -duration "${DUR}s" >"$OUT/raw-$1.json" 2>"$OUT/raw-$1.log" &
	lp=$!
	sleep 0.2
	l0=$(pticks $lp)
	sleep "$DUR"
	l1=$(pticks $lp 2>/dev/null || echo "$l0")
	e1=$(gticks "$ESPG")
	wait $lp
	local rate
	rate=$(sed -E 's/.*"docs_per_sec":([0-9.]+).*/\1/' "$OUT/raw-$1.json")
	echo "raw,$1,$(printf '%.0f' "$rate"),$(pct "$e0" "$e1" "$DUR"),$(pct "$l0" "$l1" "$DUR")" >>"$OUT/results.csv"
	log "$(tail -n1 "$OUT/results.csv")"
	curl -s -XDELETE "$URL/sluice-flows-raw" >/dev/null
	sleep 5
}

sluice_run() { # $1 = round
	log "sluice #$1: flowgen at $RATE flows/s for ${DUR}s"
	local sp fp d0 d1 s0 s1 e0 e1
	env "${common[@]}" SLUICE_DATA_DIR="$WORK/state-$1" SLUICE_OUTPUT_FILE_ENABLED=false SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES="$URL" \
		"$BIN/sluice" run 2>"$OUT/sluice-$1.log" &
	sp=$!
	for _ in $(seq 50); do curl -sf http://127.0.0.1:19156/readyz >/dev/null && break; sleep 0.1; done
	"$BIN/flowgen" -port 12055 -rate "$RATE" -duration "$((DUR + 5))s" -exporters "$EXPORTERS" -proto "$PROTO" >"$OUT/flowgen-$1.log" 2>&1 &
	fp=$!
	sleep 5 # let the pipeline fill: measure the steady state
	d0=$(metric 'sluice_output_events_total{output="elasticsearch"}')
	s0=$(pticks $sp)
	e0=$(gticks "$ESPG")
	sleep "$DUR"
	d1=$(metric 'sluice_output_events_total{output="elasticsearch"}')
	s1=$(pticks $sp)
	e1=$(gticks "$ESPG")
	wait $fp || true
	curl -s http://127.0.0.1:19156/metrics >"$OUT/sluice-metrics-$1.txt"
	kill -TERM $sp && wait $sp || true
	echo "sluice,$1,$(awk -v a="$d0" -v b="$d1" -v s="$DUR" 'BEGIN { printf "%.0f", (b - a) / s }'),$(pct "$e0" "$e1" "$DUR"),$(pct "$s0" "$s1" "$DUR")" >>"$OUT/results.csv"
	log "$(tail -n1 "$OUT/results.csv")"
	curl -s -XDELETE "$URL/sluice-flows-*" >/dev/null
	sleep 5
}

# Alternate the order (raw, sluice, sluice, raw, ...) so that a node that
# gets faster or slower over the run favours neither side.
echo "run,round,docs_per_sec,node_cpu_pct,client_cpu_pct" >"$OUT/results.csv"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then raw_run "$r"; sluice_run "$r"; else sluice_run "$r"; raw_run "$r"; fi
done
cat "$OUT/results.csv"
awk -F, 'NR > 1 { n[$1]++; d[$1] += $3; nc[$1] += $4; cc[$1] += $5 }
	END {
		printf "mean docs/s: raw %.0f, sluice %.0f; throughput ratio sluice/raw %.3f\n", d["raw"] / n["raw"], d["sluice"] / n["sluice"], (d["sluice"] / n["sluice"]) / (d["raw"] / n["raw"])
		printf "mean CPU: node %.1f%% and sluice %.1f%% during sluice runs; sluice/node %.3f (loader %.1f%%, node %.1f%% during raw runs)\n", nc["sluice"] / n["sluice"], cc["sluice"] / n["sluice"], cc["sluice"] / nc["sluice"], cc["raw"] / n["raw"], nc["raw"] / n["raw"]
	}' "$OUT/results.csv" | tee "$OUT/summary.txt"
cat "$OUT"/sluice-metrics-*.txt | grep -E '^sluice_collector_packets_dropped_total.*netflow.*(queue_full|socket_buffer_full)|^sluice_output_elasticsearch_(retried|spooled|duplicates)' >>"$OUT/summary.txt" || true
