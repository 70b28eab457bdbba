#!/usr/bin/env bash
# End-to-end check of an HA pair under a real Prometheus with the shipped
# alert rules: two exporter replicas with identical configurations, both
# scraped, must raise one alert per database, not two, and still raise it
# when one of them dies.
#
# Builds the exporter, scripts/fakeapi and the deploy tests, starts the fake
# API with a few generated databases and a Prometheus whose configuration is
# derived from deploy/prometheus/prometheus.yml, scraping two targets in job
# upstash_backup_exporter, and runs TestE2EHA (deploy/e2e_ha_test.go). The
# test starts the two replicas itself (so that it can kill one), both with
# --upstash.cache-ttl equal to the scrape interval, makes one database
# stale through the fake's control API, and checks:
#   - the stale database's alerts are pending or firing once per alert name,
#     without an instance label; the healthy databases raise none;
#   - a replica killed with SIGKILL changes nothing of that (same alerts,
#     same start), and adds only UpstashBackupExporterDown for its instance,
#     with severity warning since the other replica is up;
#   - the pair costs the API at most 2 list-backup calls per database per
#     cache TTL, and the survivor alone at most 1 (fake's request counts
#     over ten TTLs each; the test logs the measured rates).
#
# The derived Prometheus configuration differs from the shipped one in the
# targets (127.0.0.1 and 127.0.0.2 on one port, so that the shipped
# relabelling, which keeps the host only, gives each its own instance), the
# intervals (scrape every 2s, rules every 1s) and the Alertmanager address
# (a port nobody listens on: alerts are read from Prometheus' API). The
# job name, relabelling and rule files are the shipped ones; rules.yml is
# loaded too when deploy/prometheus has one.
#
# Everything listens on loopback addresses; processes and the temporary
# directory are removed on exit. Needs go, prometheus, promtool and curl:
# installed with apt-get when missing and running as root; otherwise the
# script fails with CI=true and skips, loudly, elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '[e2e-ha] %s\n' "$*" >&2; }

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		log "FAIL: $*"
		exit 1
	fi
	log "SKIP: $*"
	log "SKIP: THE HA-PAIR END-TO-END CHECK DID NOT RUN."
	exit 0
}

ensure_tools() {
	local missing=()
	command -v go >/dev/null || skip_or_fail "go is missing"
	# Debian's prometheus package has promtool too.
	{ command -v prometheus && command -v promtool; } >/dev/null || missing+=(prometheus)
	command -v curl >/dev/null || missing+=(curl)
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ]; then
		skip_or_fail "missing ${missing[*]} and not root to apt-get install them"
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		skip_or_fail "apt-get install ${missing[*]} failed"
	local t
	for t in prometheus promtool curl; do
		command -v "$t" >/dev/null || skip_or_fail "$t is still missing after apt-get install"
	done
}
ensure_tools

replicas=2
databases=${E2E_HA_DATABASES:-4}
scrape_interval=2s # and the replicas' --upstash.cache-ttl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/upstash-e2e-ha.XXXXXX")
pids=()
cleanup() {
	local status=$?
	# The exporters the test started, should it have died before its own
	# cleanup.
	local f
	for f in "$tmp"/pids/*.pid; do
		[ -s "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ $status -ne 0 ]; then
		for f in "$tmp"/*.log; do
			[ -f "$f" ] || continue
			log "---- last lines of $(basename "$f")"
			tail -n 20 "$f" >&2 || true
		done
	fi
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/pids"

# A random port free on every loopback address the replicas use.
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
taken_ports=" "
free_port() {
	local p h used
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		[[ $taken_ports == *" $p "* ]] && continue
		used=
		for h in 127.0.0.1 127.0.0.2; do
			port_in_use "$h" "$p" && used=1
		done
		if [ -z "$used" ]; then
			taken_ports+="$p "
			echo "$p"
			return
		fi
	done
	log "no free port found"
	return 1
}

# wait_http URL PID SECONDS: until URL answers 200, failing early if PID died.
wait_http() {
	local url=$1 pid=$2 deadline=$((SECONDS + $3))
	until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "process $pid exited before $url answered"
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			log "$url did not answer within $3s"
			return 1
		fi
		sleep 0.2
	done
}

log "building the exporter, the fake API and the deploy tests"
go build -o "$tmp/upstash_backup_exporter" .
go build -o "$tmp/fakeapi" ./scripts/fakeapi
(cd deploy && go test -c -o "$tmp/deploy.test" .)

fakeapi_port=$(free_port)
prometheus_port=$(free_port)
alertmanager_port=$(free_port) # nobody listens there
# One port on two hosts: the shipped relabelling keeps the host only.
replica_port=$(free_port)
replica_addrs=("127.0.0.1:$replica_port" "127.0.0.2:$replica_port")

fakeapi_email=e2e@example.com
fakeapi_key=e2e-fake-developer-api-key
log "fake API on 127.0.0.1:$fakeapi_port: $databases databases of 10 daily backups"
"$tmp/fakeapi" --listen="127.0.0.1:$fakeapi_port" --email="$fakeapi_email" --api-key="$fakeapi_key" \
	--databases="$databases" --backups=10 >"$tmp/fakeapi.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$fakeapi_port/-/fake/requests" "${pids[-1]}" 20

# The derived configuration. Every change is listed here and counted.
dir=$tmp/prometheus
mkdir -p "$dir"
cp deploy/prometheus/alerts.yml "$dir/alerts.yml"
targets=$(printf '          - %s\\n' "${replica_addrs[@]}")
sed -e 's/^\(  evaluation_interval:\) 1m$/\1 1s/' \
	-e "s/^\(    scrape_interval:\) 1m\$/\1 $scrape_interval/" \
	-e 's/^\(    scrape_timeout:\) 30s$/\1 2s/' \
	-e "s/^          - localhost:10035\$/${targets%\\n}/" \
	-e "s/^\(            - \)localhost:9093\$/\1127.0.0.1:$alertmanager_port/" \
	deploy/prometheus/prometheus.yml >"$dir/prometheus.yml"
want_changed=$((4 + replicas))
if [ -f deploy/prometheus/rules.yml ]; then
	cp deploy/prometheus/rules.yml "$dir/rules.yml"
	if ! grep -q '^  - rules.yml$' "$dir/prometheus.yml"; then
		sed -i 's/^  - alerts.yml$/&\n  - rules.yml/' "$dir/prometheus.yml"
		want_changed=$((want_changed + 1))
	fi
fi
changed=$(diff deploy/prometheus/prometheus.yml "$dir/prometheus.yml" | grep -c '^>' || true)
if [ "$changed" -ne "$want_changed" ]; then
	log "deriving the test configuration changed $changed lines of deploy/prometheus/prometheus.yml, want $want_changed:"
	diff deploy/prometheus/prometheus.yml "$dir/prometheus.yml" >&2 || true
	exit 1
fi
promtool check config "$dir/prometheus.yml" >/dev/null

log "prometheus on 127.0.0.1:$prometheus_port scraping ${replica_addrs[*]}"
prometheus --config.file="$dir/prometheus.yml" \
	--storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$prometheus_port" \
	--log.level=error >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prometheus_port/-/ready" "${pids[-1]}" 30

log "running TestE2EHA"
test_start=$SECONDS
(
	cd deploy
	E2E_HA_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port" \
		E2E_HA_EXPORTER_BIN="$tmp/upstash_backup_exporter" \
		E2E_HA_FAKEAPI_URL="http://127.0.0.1:$fakeapi_port" \
		E2E_HA_FAKEAPI_EMAIL="$fakeapi_email" \
		E2E_HA_FAKEAPI_KEY="$fakeapi_key" \
		E2E_HA_DATABASES="$databases" \
		E2E_HA_ADDRS="${replica_addrs[*]}" \
		E2E_HA_CACHE_TTL="$scrape_interval" \
		E2E_HA_PIDDIR="$tmp/pids" \
		E2E_TIMEOUT="${E2E_TIMEOUT:-60s}" \
		"$tmp/deploy.test" -test.run '^TestE2EHA$' -test.v -test.count 1 -test.timeout 3m
)
log "ok in ${SECONDS}s (test $((SECONDS - test_start))s)"
