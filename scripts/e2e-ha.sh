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
#     over ten TTLs each; the test logs the measured rates);
#   - the killed replica, restarted with a key file of its own and
#     --upstash.timeout=1s, raises UpstashBackupExporterReplicaDegraded
#     exactly once, with its instance: for the account while the file holds
#     a wrong key, then, with the right key, for one database the fake
#     answers after 3s (the survivor, with the default 10s timeout, still
#     reads it); the stale database's alerts stay as they were, and no
#     all-replicas alert fires.
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

e2e_name=e2e-ha
e2e_hosts="127.0.0.1 127.0.0.2"
# shellcheck source=scripts/e2e-lib.sh
source scripts/e2e-lib.sh
ensure_tools prometheus:prometheus prometheus:promtool curl:curl

databases=${E2E_HA_DATABASES:-4}
scrape_interval=2s # and the replicas' --upstash.cache-ttl

e2e_tmp
build_e2e

fakeapi_port=$(free_port)
prometheus_port=$(free_port)
alertmanager_port=$(free_port) # nobody listens there
# One port on two hosts: the shipped relabelling keeps the host only.
replica_port=$(free_port)
replica_addrs=("127.0.0.1:$replica_port" "127.0.0.2:$replica_port")

start_replica_fakeapi "$fakeapi_port" "$databases"
start_replica_prometheus "$prometheus_port" "$alertmanager_port" "$scrape_interval" "${replica_addrs[@]}"

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
		"$tmp/deploy.test" -test.run '^TestE2EHA$' -test.v -test.count 1 -test.timeout 4m
)
log "ok in ${SECONDS}s (test $((SECONDS - test_start))s)"
