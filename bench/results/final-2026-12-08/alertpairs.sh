#!/bin/bash
cd /work/main
BASE=/tmp/alertpairs-$1
mkdir -p $BASE
for i in $(seq 1 $2); do
  for mode in base rules; do
    extra=""; [ $mode = rules ] && extra="SLUICE_ALERTING_RULES_DIR=$PWD/bench/alert-rules"
    OUT=$BASE/$i-$mode SKIP_TCP=1 FRAMINGS=" " PEERS=custom RATES="$3" DUR=10 SLUICE_EXTRA_ENV="$extra" bench/syslog.sh > $BASE/$i-$mode.log 2>&1
    echo "$mode $(tail -1 $BASE/$i-$mode/results.csv)"
  done
done
