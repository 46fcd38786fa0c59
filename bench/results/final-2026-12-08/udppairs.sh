#!/bin/bash
# alternate rollups off/on at a fixed UDP syslog rate; CPU per line from the harness's cpu_pct
cd /work/main
BASE=/tmp/udppairs-$1
mkdir -p $BASE
for i in $(seq 1 $2); do
  for mode in off on; do
    extra=""; [ $mode = off ] && extra="SLUICE_CONSOLE_ROLLUPS=off"
    OUT=$BASE/$i-$mode SKIP_TCP=1 FRAMINGS=" " PEERS=custom RATES="$3" DUR=10 SLUICE_EXTRA_ENV="$extra" bench/syslog.sh > $BASE/$i-$mode.log 2>&1
    tail -1 $BASE/$i-$mode/results.csv
  done
done
