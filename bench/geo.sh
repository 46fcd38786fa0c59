#!/usr/bin/env bash
# GeoIP enrichment cost on the flow path, with the shared NetFlow harness
# (bench/run.sh -> ../shared/bench/run_peers.sh; same method: sluice pinned
# to CPU 0, flowgen to CPU 1, 10 s runs, loss < 0.1 % and drain <= 1 s).
# Three variants of sluice in the same run, alternating, ROUNDS times:
#   off      no enrichment stage (enrich.home_networks empty, no database)
#   locality the default: locality and network.direction, no database
#   geoip    City + ASN databases that know every public /16 (bench/geodb:
#            every public address gets a full City record and an AS)
#
#   sudo bench/geo.sh
#   RATES="150000 200000 0" ROUNDS=2 sudo bench/geo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/results/geo-$(date +%Y%m%d-%H%M%S)}
DB=${DB:-/tmp/sluice-geodb}
mkdir -p "$OUT"
(cd "$ROOT" && go run ./bench/geodb -out "$DB") | tee "$OUT/geodb.txt"
export PROTOS=${PROTOS:-v9} EXPORTERS=${EXPORTERS:-4} RATES=${RATES:-"150000 200000 250000 0"}
for round in $(seq "${ROUNDS:-2}"); do
	for v in off locality geoip; do
		case $v in
		off) env="SLUICE_ENRICH_HOME_NETWORKS=" ;;
		locality) env="" ;;
		geoip) env="SLUICE_GEOIP_CITY_DB=$DB/GeoLite2-City.mmdb SLUICE_GEOIP_ASN_DB=$DB/GeoLite2-ASN.mmdb" ;;
		esac
		OUT="$OUT/$v-$round" VARIANT="$v" SLUICE_EXTRA_ENV="$env" "$ROOT/bench/run.sh"
	done
done
# One CSV with every run.
head -n1 "$(ls "$OUT"/*/results.csv | head -n1)" >"$OUT/results.csv"
for f in "$OUT"/*/results.csv; do tail -n +2 "$f"; done >>"$OUT/results.csv"
echo "results: $OUT/results.csv"
