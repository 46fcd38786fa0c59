#!/bin/bash
set -u
while ! grep -q "^end" /work/measure.log; do sleep 5; done
echo "start2 $(date -u +%T)"
echo "== v9 150k alert pairs, more"
BASE=/tmp/alertpairs-v9b; mkdir -p $BASE
cd /work/main
for i in $(seq 1 8); do
  for mode in base rules; do
    extra=""; [ $mode = rules ] && extra="SLUICE_ALERTING_RULES_DIR=$PWD/bench/alert-rules"
    OUT=$BASE/$i-$mode PEERS=custom PROTOS=v9 RATES="150000" DUR=10 SLUICE_EXTRA_ENV="$extra" bench/run.sh > $BASE/$i-$mode.log 2>&1
    echo "$mode $(tail -1 $BASE/$i-$mode/results.csv)"
  done
done
echo "== rollup profiles $(date -u +%T)"
for p in t1:octet t2:newline t3:octet t4:newline; do
  bash /tmp/prof-roll.sh ${p%%:*} ${p##*:}
  echo "${p} $(grep 'output/rollup.(\*Stage).Process' /tmp/prof-roll-${p%%:*}/top.txt)"
  head -6 /tmp/prof-roll-${p%%:*}/top.txt | grep -i "total samples\|Duration"
done
echo "== BenchmarkParse $(date -u +%T)"
cd /work/main/enrich/parsers && go test -run '^$' -bench 'BenchmarkParse$' -benchtime 0.4s -cpu 1 -count 5 . > /tmp/parse-final.txt 2>&1
echo "end2 $(date -u +%T)"
