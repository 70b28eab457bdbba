#!/usr/bin/env bash
# End-to-end check of deploy/ under a real Prometheus and Alertmanager.
#
# Builds the exporter, runs it with --demo, runs Debian's Prometheus with a
# configuration derived from deploy/prometheus/prometheus.yml and loading
# deploy/prometheus/rules.yml and alerts.yml, runs Alertmanager with
# deploy/alertmanager/alertmanager.yml, and then the E2E tests of the deploy
# module (deploy/e2e_test.go) against them:
#   - the exporter's /metrics matches the contract the deploy tests use;
#   - the target is up and every contract series is stored;
#   - each alert the demo cast calls for is pending or firing (the rules'
#     for: durations are minutes to hours, so within this run most alerts
#     are pending), and the healthy databases raise none;
#   - every dashboard query evaluates without error and returns data;
#   - Alertmanager inhibits staleness alerts of a database whose collection
#     fails;
#   - the Kubernetes ConfigMap's configuration passes --config.check;
#   - an API outage (TestE2EOutage): the exporter binary, in discovery mode,
#     reads the fake API of scripts/fakeapi (a process of its own) with one
#     stale database among healthy ones, scraped by a second Prometheus
#     with the same derived configuration and rules. The test starts the
#     exporter, waits for the stale database's alert, makes the API answer
#     503, kills the exporter with SIGKILL and restarts it, and checks that
#     the stale database's alert or UpstashAccountUnreadable stays pending
#     or firing; then makes list-databases answer [] and checks that
#     UpstashAccountListsNoDatabases or UpstashBackupDatabaseVanished is
#     pending or firing. The healthy databases raise no backup alert.
#
# The derived Prometheus configuration differs from the shipped one in the
# targets (random loopback ports) and the intervals only: scrape and
# evaluation every 2s instead of 1m, and scrape_timeout 2s instead of 30s
# because Prometheus refuses a timeout longer than the interval. The job
# name, relabelling and rule files are the shipped ones.
#
# Everything listens on 127.0.0.1; processes and the temporary directory are
# removed on exit. Needs go, prometheus, alertmanager, curl: installed with
# apt-get when missing and running as root; otherwise the script fails with
# CI=true and skips, loudly, elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

e2e_name=e2e-prometheus
e2e_hosts=127.0.0.1
# shellcheck source=scripts/e2e-lib.sh
source scripts/e2e-lib.sh
# Debian names the Alertmanager binary prometheus-alertmanager.
ensure_tools prometheus:prometheus prometheus:promtool curl:curl \
	prometheus-alertmanager:"$(command -v alertmanager >/dev/null && echo alertmanager || echo prometheus-alertmanager)"
alertmanager=$(command -v alertmanager || command -v prometheus-alertmanager)

e2e_tmp
build_e2e

exporter_port=$(free_port)
prometheus_port=$(free_port)
alertmanager_port=$(free_port)
fakeapi_port=$(free_port)
outage_exporter_port=$(free_port)
outage_prometheus_port=$(free_port)

log "exporter --demo on 127.0.0.1:$exporter_port"
"$tmp/upstash_backup_exporter" --demo --web.listen-address="127.0.0.1:$exporter_port" \
	>"$tmp/exporter.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$exporter_port/-/ready" "${pids[-1]}" 20

log "alertmanager on 127.0.0.1:$alertmanager_port with deploy/alertmanager/alertmanager.yml"
mkdir -p "$tmp/alertmanager"
"$alertmanager" --config.file="$root/deploy/alertmanager/alertmanager.yml" \
	--storage.path="$tmp/alertmanager" \
	--web.listen-address="127.0.0.1:$alertmanager_port" \
	--cluster.listen-address= \
	--log.level=warn >"$tmp/alertmanager.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$alertmanager_port/-/ready" "${pids[-1]}" 20

# derive_config EXPORTER_PORT DIR: the derived configuration, in DIR with
# the shipped rules. Every change is listed here and counted.
derive_config() {
	local port=$1 dir=$2 changed
	mkdir -p "$dir"
	cp deploy/prometheus/rules.yml deploy/prometheus/alerts.yml "$dir/"
	sed -e 's/^\(  evaluation_interval:\) 1m$/\1 2s/' \
		-e 's/^\(    scrape_interval:\) 1m$/\1 2s/' \
		-e 's/^\(    scrape_timeout:\) 30s$/\1 2s/' \
		-e "s/^\(          - \)localhost:10035\$/\1127.0.0.1:$port/" \
		-e "s/^\(            - \)localhost:9093\$/\1127.0.0.1:$alertmanager_port/" \
		deploy/prometheus/prometheus.yml >"$dir/prometheus.yml"
	changed=$(diff deploy/prometheus/prometheus.yml "$dir/prometheus.yml" | grep -c '^>' || true)
	if [ "$changed" -ne 5 ]; then
		log "deriving the test configuration changed $changed lines of deploy/prometheus/prometheus.yml, want 5:"
		diff deploy/prometheus/prometheus.yml "$dir/prometheus.yml" >&2 || true
		return 1
	fi
	promtool check config "$dir/prometheus.yml" >/dev/null
}

# start_prometheus PORT DIR NAME
start_prometheus() {
	log "$3 on 127.0.0.1:$1"
	prometheus --config.file="$2/prometheus.yml" \
		--storage.tsdb.path="$2/data" \
		--web.listen-address="127.0.0.1:$1" \
		--log.level=warn >"$tmp/$3.log" 2>&1 &
	pids+=($!)
}

derive_config "$exporter_port" "$tmp/prometheus"
start_prometheus "$prometheus_port" "$tmp/prometheus" prometheus
prometheus_pid=${pids[-1]}

# The outage scenario: the fake API, and a Prometheus scraping the port on
# which TestE2EOutage starts (and restarts) the exporter.
log "fake API on 127.0.0.1:$fakeapi_port: 3 databases of 30 daily backups"
"$tmp/fakeapi" --listen="127.0.0.1:$fakeapi_port" --email="$fakeapi_email" --api-key="$fakeapi_key" \
	--databases=3 --backups=30 >"$tmp/fakeapi.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$fakeapi_port/-/fake/requests" "${pids[-1]}" 20
derive_config "$outage_exporter_port" "$tmp/prometheus-outage"
start_prometheus "$outage_prometheus_port" "$tmp/prometheus-outage" prometheus-outage
wait_http "http://127.0.0.1:$outage_prometheus_port/-/ready" "${pids[-1]}" 30
wait_http "http://127.0.0.1:$prometheus_port/-/ready" "$prometheus_pid" 30

log "running the end-to-end tests"
(
	cd deploy
	E2E_EXPORTER_URL="http://127.0.0.1:$exporter_port" \
		E2E_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port" \
		E2E_ALERTMANAGER_URL="http://127.0.0.1:$alertmanager_port" \
		E2E_EXPORTER_BIN="$tmp/upstash_backup_exporter" \
		E2E_FAKEAPI_URL="http://127.0.0.1:$fakeapi_port" \
		E2E_FAKEAPI_EMAIL="$fakeapi_email" \
		E2E_FAKEAPI_KEY="$fakeapi_key" \
		E2E_OUTAGE_EXPORTER_ADDR="127.0.0.1:$outage_exporter_port" \
		E2E_OUTAGE_PROMETHEUS_URL="http://127.0.0.1:$outage_prometheus_port" \
		E2E_OUTAGE_PIDFILE="$tmp/pids/outage-exporter.pid" \
		E2E_TIMEOUT="${E2E_TIMEOUT:-60s}" \
		"$tmp/deploy.test" -test.run '^TestE2E' -test.v -test.timeout 3m
)
log "ok in ${SECONDS}s"
