#!/usr/bin/env bash
# End-to-end check of sharding (--shard.count, --shard.index) under a real
# Prometheus with the shipped alert rules.
#
# Builds the exporter, scripts/fakeapi and the deploy tests, starts the fake
# API with 300 generated databases and a Prometheus whose configuration is
# derived from deploy/prometheus/prometheus.yml, scraping three targets in
# job upstash_backup_exporter, and runs TestE2EShard (deploy/e2e_shard_test.go).
# The test starts the exporter replicas on those targets itself (so that it
# can kill and restart one), plus one unsharded exporter that Prometheus does
# not scrape, and checks:
#   - the replicas' per-database series, together, are the unsharded
#     exporter's, each database on exactly one replica; every replica
#     exports the account series and its shard index and count;
#   - one round of the three replicas costs the API one list-backup per
#     database and one list-databases per replica (fake's request counts);
#   - a replica killed with SIGKILL raises UpstashBackupExporterDown for its
#     instance and UpstashBackupDatabaseVanished for exactly its databases
#     (both pending: their for: durations are minutes), nothing else; its
#     restart clears them.
#
# The derived Prometheus configuration differs from the shipped one in the
# targets (three replicas on 127.0.0.1, .2 and .3, so that the shipped
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

e2e_name=e2e-shard
e2e_hosts="127.0.0.1 127.0.0.2 127.0.0.3"
# shellcheck source=scripts/e2e-lib.sh
source scripts/e2e-lib.sh
ensure_tools prometheus:prometheus prometheus:promtool curl:curl

shards=3
databases=${E2E_SHARD_DATABASES:-300}

e2e_tmp
build_e2e

fakeapi_port=$(free_port)
prometheus_port=$(free_port)
alertmanager_port=$(free_port) # nobody listens there
unsharded_port=$(free_port)
replica_addrs=()
for i in $(seq 0 $((shards - 1))); do
	replica_addrs+=("127.0.0.$((i + 1)):$(free_port)")
done

start_replica_fakeapi "$fakeapi_port" "$databases"
start_replica_prometheus "$prometheus_port" "$alertmanager_port" 2s "${replica_addrs[@]}"

log "running TestE2EShard"
test_start=$SECONDS
(
	cd deploy
	E2E_SHARD_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port" \
		E2E_SHARD_EXPORTER_BIN="$tmp/upstash_backup_exporter" \
		E2E_SHARD_FAKEAPI_URL="http://127.0.0.1:$fakeapi_port" \
		E2E_SHARD_FAKEAPI_EMAIL="$fakeapi_email" \
		E2E_SHARD_FAKEAPI_KEY="$fakeapi_key" \
		E2E_SHARD_DATABASES="$databases" \
		E2E_SHARD_ADDRS="${replica_addrs[*]}" \
		E2E_SHARD_UNSHARDED_ADDR="127.0.0.1:$unsharded_port" \
		E2E_SHARD_PIDDIR="$tmp/pids" \
		E2E_TIMEOUT="${E2E_TIMEOUT:-60s}" \
		"$tmp/deploy.test" -test.run '^TestE2EShard' -test.v -test.count 1 -test.timeout 3m
)
log "ok in ${SECONDS}s (test $((SECONDS - test_start))s)"
