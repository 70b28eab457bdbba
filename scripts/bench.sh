#!/usr/bin/env bash
# Runs the scale benchmarks and prints the table of README.md's "Scaling"
# section, then judges it: exit 1 when a collection misses its wall-time
# bound (1.15 x floor + 25 ms, floor = ceil(N/C) x L), when the API calls
# are not one list-backup per database and one list-databases per
# collection (or per TTL with a cache), or when the heap targets are missed.
# The Go benchmarks only report numbers; this script judges them.
#
#   scripts/bench.sh short   CI size: N up to 1,000; under about 90 s on 2 cores
#   scripts/bench.sh [full]  the README figures: N up to 5,000; a few minutes
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case $mode in
short)
	cases=1:8,10:8,100:8,1000:8,1000:64
	scrapers_n=100 heap_n=1000 growth=100 render_n=1000 cpu_times=10x
	;;
full)
	cases=1:8,10:8,100:8,1000:8,5000:8,1000:16,5000:16,1000:64,5000:64
	scrapers_n=1000 heap_n=5000 growth=1000 render_n=5000 cpu_times=50x
	;;
*)
	echo "usage: $0 [short|full]" >&2
	exit 2
	;;
esac
latency_ms=50
judged_c=8 # rows at the default concurrency are judged; the others are shown

export UPSTASH_BENCH_CASES=$cases UPSTASH_BENCH_LATENCY=${latency_ms}ms
export UPSTASH_BENCH_SCRAPERS_N=$scrapers_n UPSTASH_BENCH_HEAP_N=$heap_n
export UPSTASH_BENCH_GROWTH=$growth UPSTASH_BENCH_RENDER_N=$render_n

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
raw=$out/raw.txt

bench() { # bench PKG REGEXP BENCHTIME
	go test -run '^$' -bench "$2" -benchtime "$3" -benchmem -timeout 30m "$1" >>"$raw" 2>&1 ||
		{ cat "$raw"; echo "benchmark run failed: $1 $2" >&2; exit 1; }
}

start=$SECONDS
bench ./collector '^BenchmarkScale(Wall|Scrapers|CacheTTL|Heap|Growth)$' 1x
bench ./collector '^BenchmarkScaleCPU$' "$cpu_times"
bench ./upstash '^BenchmarkDecodeBackups$' 1s
bench . '^BenchmarkMetricsRender$' 3x

# metric NAME_REGEXP UNIT: the value of UNIT on the first benchmark line
# whose name matches.
metric() {
	awk -v re="$1" -v unit="$2" '
		$1 ~ /^Benchmark/ && $1 ~ re {
			for (i = 3; i < NF; i++) if ($(i + 1) == unit) { print $i; exit }
		}' "$raw"
}

fail=0
verdict() { # verdict OK JUDGED: prints ok, FAIL (and records it) or over
	if [ "$1" = 1 ]; then echo ok
	elif [ "$2" = 1 ]; then fail=1; echo FAIL
	else echo "over (not judged)"; fi
}

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo
echo "upstash_backup_exporter scale benchmarks ($mode), $(nproc) cores, $cpu_model, $(go env GOVERSION)"
echo "fake API over loopback in the same process; list-backup latency L = ${latency_ms} ms (a timer, no busy wait)"
echo
echo "== One collection of N databases (20 backups each) at concurrency C; bound = 1.15 x floor + 25 ms; rows with C=$judged_c judged"
printf '%6s %4s %10s %10s %7s %10s %17s %13s %10s %9s  %s\n' \
	N C wall_ms floor_ms ratio bound_ms list_backup_calls list_db_calls allocs/db heap_MiB verdict
IFS=, read -ra pairs <<<"$cases"
for pair in "${pairs[@]}"; do
	n=${pair%%:*} c=${pair##*:}
	re="^BenchmarkScaleWall/N=$n/C=$c-"
	wall=$(metric "$re" wall-ms) floor=$(metric "$re" floor-ms)
	calls=$(metric "$re" list-backup/op) lists=$(metric "$re" list-db/op)
	allocs=$(metric "$re" allocs/db) heap=$(metric "$re" heap-MiB)
	read -r ratio bound ok < <(awk -v w="$wall" -v f="$floor" -v n="$n" -v calls="$calls" -v lists="$lists" 'BEGIN {
		b = 1.15 * f + 25
		printf "%.3f %.1f %d\n", (f > 0 ? w / f : 0), b, (w <= b && calls == n && lists == 1)
	}')
	judged=0
	[ "$c" = "$judged_c" ] && judged=1
	printf '%6s %4s %10.1f %10.1f %7s %10s %17.0f %13.0f %10.0f %9.2f  %s\n' \
		"$n" "$c" "$wall" "$floor" "$ratio" "$bound" "$calls" "$lists" "$allocs" "$heap" "$(verdict "$ok" "$judged")"
done

echo
echo "== API calls"
re="^BenchmarkScaleScrapers/"
n=$(metric "$re" databases) calls=$(metric "$re" list-backup/op) lists=$(metric "$re" list-db/op)
ok=$(awk -v n="$n" -v c="$calls" -v l="$lists" 'BEGIN { print (c == n && l == 1) }')
printf 'K=10 scrapes together, N=%.0f, C=8: %.0f list-backup calls, %.0f list-databases calls per round (want %.0f and 1): %s\n' \
	"$n" "$calls" "$lists" "$n" "$(verdict "$ok" 1)"
for k in 2 10; do
	re="^BenchmarkScaleCacheTTL/scrapers=$k/"
	per_db=$(metric "$re" list-backup/db/ttl) lists=$(metric "$re" list-db/ttl)
	ok=$(awk -v c="$per_db" -v l="$lists" 'BEGIN { print (c == 1 && l == 1) }')
	printf 'cache-ttl=60s, %2d scrapers each every 30s, N=1000, 4 TTLs: %s list-backup calls per database per TTL, %s list-databases per TTL (want 1 and 1): %s\n' \
		"$k" "$per_db" "$lists" "$(verdict "$ok" 1)"
done

echo
echo "== CPU (no network: an in-memory API)"
re="^BenchmarkScaleCPU/"
ns=$(metric "$re" ns/db) allocs=$(metric "$re" allocs/op)
ok=$(awk -v ns="$ns" 'BEGIN { print (ns < 50000) }')
printf 'collector, N=1000 x 100 backups: %.1f us per database, %.0f allocations per database (aim < 50 us): %s\n' \
	"$(awk -v x="$ns" 'BEGIN { print x / 1000 }')" "$(awk -v x="$allocs" 'BEGIN { print x / 1000 }')" "$(verdict "$ok" 0)"
for nb in 20 100; do
	re="^BenchmarkDecodeBackups/backups=$nb-"
	printf 'decoding one list-backup answer of %3s backups (upstash.DecodeBackups): %.1f us, %s allocations, %s MB/s\n' \
		"$nb" "$(awk -v x="$(metric "$re" ns/op)" 'BEGIN { print x / 1000 }')" "$(metric "$re" allocs/op)" "$(metric "$re" MB/s)"
done

echo
echo "== Memory"
re="^BenchmarkScaleHeap/"
heap=$(metric "$re" heap-MiB) alloc=$(metric "$re" alloc-MiB/op)
ok=$(awk -v h="$heap" 'BEGIN { print (h < 64) }')
printf 'heap kept after one collection of %s databases x 100 backups: %.2f MiB (target < 64 MiB): %s; allocated during it (client and fake): %.0f MiB\n' \
	"$heap_n" "$heap" "$(verdict "$ok" 1)" "$alloc"
re="^BenchmarkScaleGrowth/"
h10=$(metric "$re" heap-after-10-MiB) hl=$(metric "$re" heap-after-last-MiB)
g=$(metric "$re" growth-MiB) gr=$(metric "$re" goroutine-growth)
ok=$(awk -v g="$g" -v gr="$gr" 'BEGIN { print (g < 1 && gr <= 0) }')
printf 'heap across %s collections of 100 databases: %.3f MiB after 10, %.3f MiB after %s: growth %.3f MiB, goroutines %+d (want < 1 MiB, 0): %s\n' \
	"$growth" "$h10" "$hl" "$growth" "$g" "$gr" "$(verdict "$ok" 1)"

echo
echo "== /metrics for $render_n databases (cache filled; no API call while rendering)"
for enc in identity gzip; do
	re="^BenchmarkMetricsRender/N=$render_n/$enc-"
	printf '%-8s %10.0f bytes in %7.1f ms, %s API calls per scrape\n' "$enc" \
		"$(metric "$re" body-bytes)" "$(awk -v x="$(metric "$re" ns/op)" 'BEGIN { print x / 1e6 }')" "$(metric "$re" api-calls/op)"
done

echo
echo "benchmarks took $((SECONDS - start)) s"
if [ "$fail" != 0 ]; then
	echo "FAIL: a judged figure missed its target; raw benchmark output follows"
	grep '^Benchmark' "$raw"
	exit 1
fi
echo "all judged figures within their targets"
