#!/bin/bash
# rollups on first, then off (the first run had off first): 10 pairs
cd /work/main
BASE=/tmp/udppairs-r14b; mkdir -p $BASE
for i in $(seq 1 10); do
  for mode in on off; do
    extra=""; [ $mode = off ] && extra="SLUICE_CONSOLE_ROLLUPS=off"
    OUT=$BASE/$i-$mode SKIP_TCP=1 FRAMINGS=" " PEERS=custom RATES="100000" DUR=10 SLUICE_EXTRA_ENV="$extra" bench/syslog.sh > $BASE/$i-$mode.log 2>&1
    echo "$mode $(tail -1 $BASE/$i-$mode/results.csv)"
  done
done
echo "end3 $(date -u +%T)"
