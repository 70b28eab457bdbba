#!/usr/bin/env bash
# Fuzzes the list-backup and list-databases decoders and the summary
# function, each for a bounded time, and prints each target's executions.
# `go test ./...` already runs every seed (the f.Add calls and the files in
# testdata/fuzz); this looks for new inputs.
#
#   scripts/fuzz.sh short   20,000 executions a target (scripts/test.sh, CI):
#                           a few seconds each on 2 cores
#   scripts/fuzz.sh long    3m a target; FUZZTIME=10m scripts/fuzz.sh long for longer
#
# The short run counts executions instead of seconds: with a duration, Go
# 1.26's fuzzing coordinator can report a bare "context deadline exceeded"
# when the time runs out while a worker is busy on a loaded machine
# (go.dev/issue/75804, fixed in Go 1.27), which is no finding at all.
#
# A failing input is saved by go test under the package's
# testdata/fuzz/<target>/: commit it with the fix, and it stays a test.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
case $mode in
short) fuzztime=${FUZZTIME:-20000x} ;;
long) fuzztime=${FUZZTIME:-3m} ;;
*)
	echo "usage: $0 short|long" >&2
	exit 2
	;;
esac

targets=(
	"./upstash FuzzDecodeBackups"
	"./upstash FuzzDecodeDatabases"
	"./upstash FuzzDecodePlain"
	"./collector FuzzComputeStats"
	"./config FuzzParse"
)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
summary=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "==> $name ($pkg) for $fuzztime"
	start=$SECONDS
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" 2>&1 | tee "$out"; then
		result=ok
	else
		result=FAILED
		status=1
	fi
	execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | cut -d' ' -f2)
	summary+=("$name: $result, ${execs:-0} executions ($fuzztime) in $((SECONDS - start))s")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
