#!/usr/bin/env bash
# Loopback NetFlow v9/IPFIX benchmark of sluice beside goflow2 and nfcapd,
# with the shared harness (../shared/bench/run_peers.sh; method in its
# RESULTS.md): collector pinned to CPU 0, flowgen on CPU 1, output on tmpfs.
#
#   sudo bench/run.sh                                   # sluice only, default sweep
#   PEERS="custom goflow2 nfcapd" sudo bench/run.sh     # with the peers, same run
#   EXPORTERS=256 RATES="200000 400000" PROTOS=ipfix sudo bench/run.sh
#
# Results: bench/results/<stamp>/results.csv; sluice's log per run (with its
# peak RSS, logged at exit as peak_rss_bytes) next to it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
BIN=${BIN:-/tmp/sluice-bench/sluice}
mkdir -p "$(dirname "$BIN")"
(cd "$ROOT" && go build -o "$BIN" ./cmd/sluice)

export PEERS=${PEERS:-custom}
export VARIANT=${VARIANT:-sluice-ndjson-e${EXPORTERS:-4}}
export RATES=${RATES:-"100000 250000 500000 750000 1000000"}
export OUT=${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)}
# The netflow listener auto-detects v9 and IPFIX, so both go to $PORT.
export CUSTOM_START="env SLUICE_NETFLOW_LISTEN=127.0.0.1:\$PORT SLUICE_IPFIX_LISTEN= SLUICE_SFLOW_LISTEN= SLUICE_SYSLOG_UDP_LISTEN= SLUICE_SYSLOG_TCP_LISTEN= \
SLUICE_HTTP_LISTEN=127.0.0.1:19155 SLUICE_OUTPUT_FILE_DIR=\$WORK/out SLUICE_DATA_DIR=\$WORK/state \
SLUICE_NETFLOW_TEMPLATES_PERSIST=false ${SLUICE_EXTRA_ENV:-} $BIN run"
export CUSTOM_COUNT='cat $WORK/out/*.ndjson 2>/dev/null | wc -l'
exec "$SHARED/run_peers.sh"
