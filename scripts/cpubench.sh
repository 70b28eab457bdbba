#!/usr/bin/env bash
# Measures what one scrape costs the exporter binary against the fake API
# of scripts/fakeapi, both processes of their own, and prints the table of
# README.md's "Scaling" section (CPU): wall time against the floor
# ceil(N/C) x L, the ratio, the exporter's and the fake's process CPU per
# database (user + sys from /proc/<pid>/stat), the exporter's peak RSS and
# the API calls per scrape; then the same for a naive sequential loop
# (net/http and encoding/json, one list-backup at a time). See
# scripts/cpubench/main.go for how each point is run.
#
# It fails only on functional problems (a failed scrape, a database not
# read, API calls other than N+1 per scrape), never on a timing.
#
#   scripts/cpubench.sh short   CI size: N up to 1,000; about a minute
#   scripts/cpubench.sh [full]  the README table: N up to 5,000; about 9 minutes
#                               (the naive loop at N=5,000 alone takes N x L)
#
# Extra arguments go to the driver, e.g. -pprof=5000:64:/tmp/cpu.pprof to
# profile the exporter's measured scrapes at N=5000, C=64.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
[ $# -gt 0 ] && shift
case $mode in
short) args=(-n=100,1000 -c=8,64,256 -naive-n=100 -scrapes=2 -reads=500) ;;
full) args=(-n=100,1000,5000 -c=8,64,256 -naive-n=100,1000,5000 -scrapes=3 -reads=1000) ;;
*)
	echo "usage: $0 [short|full] [driver flags]" >&2
	exit 2
	;;
esac

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/exporter" .
go build -o "$bin/fakeapi" ./scripts/fakeapi
go build -o "$bin/cpubench" ./scripts/cpubench

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "upstash_backup_exporter CPU per scrape ($mode), $(nproc) cores, $cpu_model, $(go env GOVERSION)"
start=$SECONDS
"$bin/cpubench" -exporter="$bin/exporter" -fakeapi="$bin/fakeapi" -clk-tck="$(getconf CLK_TCK)" "${args[@]}" "$@"
echo
echo "took $((SECONDS - start)) s"
