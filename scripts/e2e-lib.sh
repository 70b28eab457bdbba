# shellcheck shell=bash
# What the end-to-end scripts (e2e-prometheus.sh, e2e-shard.sh, e2e-ha.sh)
# share: logging, the tools check, a temporary directory whose processes and
# files go on exit, free loopback ports, waiting for a listener, and the
# fake API and Prometheus of the replica tests. Source it after setting
# e2e_name (the log prefix) and e2e_hosts (the loopback addresses a port
# must be free on).

log() { printf '[%s] %s\n' "$e2e_name" "$*" >&2; }

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		log "FAIL: $*"
		exit 1
	fi
	log "SKIP: $*"
	log "SKIP: THE END-TO-END CHECK $e2e_name DID NOT RUN."
	exit 0
}

# ensure_tools PACKAGE:COMMAND...: go and each command, apt-get installing
# the packages of the missing ones when running as root.
ensure_tools() {
	local pair missing=()
	command -v go >/dev/null || skip_or_fail "go is missing"
	for pair in "$@"; do
		command -v "${pair#*:}" >/dev/null || missing+=("${pair%%:*}")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ]; then
		skip_or_fail "missing ${missing[*]} and not root to apt-get install them"
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		skip_or_fail "apt-get install ${missing[*]} failed"
	for pair in "$@"; do
		command -v "${pair#*:}" >/dev/null || skip_or_fail "${pair#*:} is still missing after apt-get install"
	done
}

# e2e_tmp makes $tmp and the exit handler that stops $pids and the
# processes of $tmp/pids/*.pid (started by a test that may have died before
# its own cleanup), shows the logs of a failed run and removes $tmp.
e2e_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/upstash-$e2e_name.XXXXXX")
	mkdir -p "$tmp/pids"
	pids=()
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
}

e2e_cleanup() {
	local status=$? f pid
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

# free_port: a random port free on every address of e2e_hosts; the
# listener that takes it is checked to be ours by the wait that follows.
# Ports come from below the kernel's ephemeral range: a port of that range,
# free when picked, can become the local port of one of the many
# connections the test's processes open before its listener starts.
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
taken_ports=" "
ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
if [ "${ephemeral_low:-0}" -gt 12000 ]; then
	port_low=10000 port_span=$((ephemeral_low - 10000))
else
	port_low=20000 port_span=40000 # an unusual range: pick as before
fi
free_port() {
	local p h used
	for _ in $(seq 1 100); do
		p=$((port_low + (RANDOM * 32768 + RANDOM) % port_span))
		[[ $taken_ports == *" $p "* ]] && continue
		used=
		for h in $e2e_hosts; do
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

# build_e2e: the exporter, the fake API and the deploy tests, in $tmp.
build_e2e() {
	log "building the exporter, the fake API and the deploy tests"
	go build -o "$tmp/upstash_backup_exporter" .
	go build -o "$tmp/fakeapi" ./scripts/fakeapi
	(cd deploy && go test -c -o "$tmp/deploy.test" .)
}

# start_replica_fakeapi PORT DATABASES: the fake API with DATABASES
# generated databases of 10 daily backups, for the replica tests.
fakeapi_email=e2e@example.com
fakeapi_key=e2e-fake-developer-api-key
start_replica_fakeapi() {
	log "fake API on 127.0.0.1:$1: $2 databases of 10 daily backups"
	"$tmp/fakeapi" --listen="127.0.0.1:$1" --email="$fakeapi_email" --api-key="$fakeapi_key" \
		--databases="$2" --backups=10 >"$tmp/fakeapi.log" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$1/-/fake/requests" "${pids[-1]}" 20
}

# start_replica_prometheus PORT ALERTMANAGER_PORT SCRAPE_INTERVAL ADDR...:
# a Prometheus scraping the replicas ADDR... in the shipped job, with the
# shipped relabelling and rules. Its configuration is derived from
# deploy/prometheus/prometheus.yml; every change is listed here and
# counted: the targets, the intervals (rules every 1s, scrapes every
# SCRAPE_INTERVAL with a 2s timeout), the Alertmanager address (nobody need
# listen there: the tests read alerts from Prometheus' API) and rules.yml.
start_replica_prometheus() {
	local port=$1 am_port=$2 interval=$3
	shift 3
	local dir=$tmp/prometheus targets want_changed changed
	mkdir -p "$dir"
	cp deploy/prometheus/alerts.yml "$dir/alerts.yml"
	targets=$(printf '          - %s\\n' "$@")
	sed -e 's/^\(  evaluation_interval:\) 1m$/\1 1s/' \
		-e "s/^\(    scrape_interval:\) 1m\$/\1 $interval/" \
		-e 's/^\(    scrape_timeout:\) 30s$/\1 2s/' \
		-e "s/^          - localhost:10035\$/${targets%\\n}/" \
		-e "s/^\(            - \)localhost:9093\$/\1127.0.0.1:$am_port/" \
		deploy/prometheus/prometheus.yml >"$dir/prometheus.yml"
	want_changed=$((4 + $#))
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
		return 1
	fi
	promtool check config "$dir/prometheus.yml" >/dev/null
	log "prometheus on 127.0.0.1:$port scraping $*"
	prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" \
		--log.level=error >"$tmp/prometheus.log" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$port/-/ready" "${pids[-1]}" 30
}
