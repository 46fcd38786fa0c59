#!/bin/bash
# issue 13 and 14 pairs, then BenchmarkParse; one after the other
set -u
echo "start $(date -u +%T)"
echo "== v9 150k alert pairs"
bash /tmp/alertpairs-v9.sh 6 150000
echo "== syslog udp 100k alert pairs $(date -u +%T)"
bash /tmp/alertpairs.sh s13 6 100000
echo "== syslog udp 100k rollup pairs $(date -u +%T)"
bash /tmp/udppairs.sh r14 10 100000
echo "end $(date -u +%T)"
