#!/bin/bash
cd /work/main
BASE=/tmp/alertpairs-v9
mkdir -p $BASE
for i in $(seq 1 $1); do
  for mode in base rules; do
    extra=""; [ $mode = rules ] && extra="SLUICE_ALERTING_RULES_DIR=$PWD/bench/alert-rules"
    OUT=$BASE/$i-$mode PEERS=custom PROTOS=v9 RATES="$2" DUR=10 SLUICE_EXTRA_ENV="$extra" bench/run.sh > $BASE/$i-$mode.log 2>&1
    echo "$mode $(tail -1 $BASE/$i-$mode/results.csv)"
  done
done
