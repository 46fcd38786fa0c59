#!/bin/bash
# profile sluice at TCP syslog saturation with the 50 bench rules (rollups off)
cd /work/main
OUT=/tmp/prof-roll-$1
mkdir -p $OUT
( SKIP_UDP=1 FRAMINGS="$2" DUR=20 OUT=$OUT SLUICE_EXTRA_ENV="SLUICE_HTTP_PPROF=true " bench/syslog.sh > $OUT/bench.log 2>&1 ) &
sleep 9
curl -s -o $OUT/cpu.pprof "http://127.0.0.1:19158/debug/pprof/profile?seconds=10"
wait
go tool pprof -top -nodecount=400 $OUT/cpu.pprof 2>/dev/null > $OUT/top.txt
