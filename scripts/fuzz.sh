#!/usr/bin/env bash
# Fuzzes the list-backup and list-databases decoders and the summary
# function, each for a bounded time, and prints each target's executions.
# `go test ./...` already runs every seed (the f.Add calls and the files in
# testdata/fuzz); this looks for new inputs.
#
#   scripts/fuzz.sh short   about 6s a target (scripts/test.sh, CI); under a minute in all
#   scripts/fuzz.sh long    3m a target; FUZZTIME=10m scripts/fuzz.sh long for longer
#
# A failing input is saved by go test under the package's
# testdata/fuzz/<target>/: commit it with the fix, and it stays a test.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
case $mode in
short) fuzztime=${FUZZTIME:-6s} ;;
long) fuzztime=${FUZZTIME:-3m} ;;
*)
	echo "usage: $0 short|long" >&2
	exit 2
	;;
esac

targets=(
	"./upstash FuzzDecodeBackups"
	"./upstash FuzzDecodeDatabases"
	"./collector FuzzSummarize"
)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
summary=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "==> $name ($pkg) for $fuzztime"
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" 2>&1 | tee "$out"; then
		result=ok
	else
		result=FAILED
		status=1
	fi
	execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | cut -d' ' -f2)
	summary+=("$name: $result, ${execs:-0} executions in $fuzztime")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
