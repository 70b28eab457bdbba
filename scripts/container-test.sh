#!/usr/bin/env bash
# Builds the Dockerfile and runs the image with --demo, then checks what the
# image promises: /metrics served with the demo's data, the build
# information passed as build arguments, a numeric non-root user, port 10035
# and the binary as entrypoint.
#
# There is no Docker engine and no registry for base images here, so this
# follows ../shared/notes/containers.md: buildah and podman on vfs storage
# with chroot isolation, a stand-in for golang:1.26-bookworm assembled from
# the host's Go toolchain, busybox and CA bundle (built once and reused),
# podman with cgroupfs and runc, host networking. The stand-in proves the
# Dockerfile's steps, paths, user and entrypoint; it cannot prove what the
# real upstream builder image contains, which is why the build stage runs go
# commands only.
#
# Needs root (apt-get installs buildah, podman, runc, busybox-static when
# missing). Without them it fails with CI=true and skips, loudly, elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[container-test] %s\n' "$*" >&2; }

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		log "FAIL: $*"
		exit 1
	fi
	log "SKIP: $*"
	log "SKIP: THE CONTAINER CHECK DID NOT RUN."
	exit 0
}

image=localhost/upstash_backup_exporter:container-test
builder=docker.io/library/golang:1.26-bookworm
version=0.0.0-container-test
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
build_date=$(date -u +%Y%m%d-%H:%M:%S)

# --- tools -----------------------------------------------------------------
missing=()
for t in buildah podman runc busybox curl; do
	command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || skip_or_fail "missing ${missing[*]} and not root to apt-get install them"
	log "installing buildah podman runc busybox-static curl"
	export DEBIAN_FRONTEND=noninteractive
	pkgs=(buildah podman runc busybox-static curl)
	apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; } ||
		skip_or_fail "apt-get install ${pkgs[*]} failed"
fi
[ "$(id -u)" -eq 0 ] || skip_or_fail "the recipe of shared/notes/containers.md runs as root"
goroot=$(go env GOROOT 2>/dev/null) || skip_or_fail "go is missing (the builder stand-in is made from it)"
busybox=$(command -v busybox)
[ -f /etc/ssl/certs/ca-certificates.crt ] || skip_or_fail "/etc/ssl/certs/ca-certificates.crt is missing"

# podman's defaults ask for rlimits and cgroups this sandbox refuses.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/upstash-container.XXXXXX")
printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n' >"$tmp/containers.conf"
export CONTAINERS_CONF=$tmp/containers.conf
# The same storage flag on every call: the environment would pick another store.
S=(--storage-driver vfs)
podman_run=(podman "${S[@]}" --cgroup-manager cgroupfs --runtime runc)

container=""
cleanup() {
	local status=$?
	if [ -n "$container" ]; then
		if [ $status -ne 0 ]; then
			log "---- container log"
			"${podman_run[@]}" logs "$container" 2>&1 | tail -n 20 >&2 || true
		fi
		"${podman_run[@]}" rm -f "$container" >/dev/null 2>&1 || true
	fi
	# The builder stand-in stays for the next run; the test image goes.
	buildah "${S[@]}" rmi "$image" >/dev/null 2>&1 || true
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the builder stand-in ------------------------------------------------------
want_go=$(go env GOVERSION)
if buildah "${S[@]}" inspect --type image "$builder" >/dev/null 2>&1 &&
	[ "$(buildah "${S[@]}" inspect --type image --format '{{index .ImageAnnotations "org.opencontainers.image.description"}}' "$builder" 2>/dev/null)" = "stand-in $want_go" ]; then
	log "reusing the $builder stand-in ($want_go)"
else
	log "assembling a $builder stand-in from the host's $want_go"
	c=$(buildah "${S[@]}" from scratch)
	buildah "${S[@]}" copy "$c" "$goroot" /usr/local/go >/dev/null
	buildah "${S[@]}" copy "$c" "$busybox" /bin/busybox >/dev/null
	buildah "${S[@]}" run --isolation chroot "$c" /bin/busybox sh -c \
		'/bin/busybox --install -s /bin && mkdir -p /tmp /root && chmod 1777 /tmp'
	buildah "${S[@]}" copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
	buildah "${S[@]}" config --env PATH=/usr/local/go/bin:/bin --env GOPATH=/go --env HOME=/root \
		--env GOTOOLCHAIN=local --annotation "org.opencontainers.image.description=stand-in $want_go" "$c"
	buildah "${S[@]}" commit -q "$c" "$builder" >/dev/null
	buildah "${S[@]}" rm "$c" >/dev/null
fi

# --- build ----------------------------------------------------------------------
log "building the Dockerfile"
start=$SECONDS
buildah "${S[@]}" bud --isolation chroot --network host --pull=never --layers=false \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" \
	--build-arg BRANCH=container-test --build-arg BUILD_DATE="$build_date" \
	-t "$image" . >"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log" >&2; exit 1; }
log "built in $((SECONDS - start))s"

# --- the image's promises --------------------------------------------------------
fail=0
check() { # check WHAT GOT WANT
	if [ "$2" = "$3" ]; then
		log "ok: $1 = $2"
	else
		log "FAIL: $1 = '$2', want '$3'"
		fail=1
	fi
}
inspect() { podman "${S[@]}" image inspect --format "$1" "$image"; }
check user "$(inspect '{{.Config.User}}')" "65534:65534"
check entrypoint "$(inspect '{{json .Config.Entrypoint}}')" '["/bin/upstash_backup_exporter"]'
# shellcheck disable=SC2016 # a Go template, not a shell expansion
check "exposed ports" "$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')" "10035/tcp "
label() { inspect "{{index .Labels \"org.opencontainers.image.$1\"}}"; }
check "label version" "$(label version)" "$version"
check "label revision" "$(label revision)" "$revision"
check "label licenses" "$(label licenses)" "Apache-2.0"
check "label source" "$(label source)" "https://github.com/upstash-backup-exporter/upstash_backup_exporter"
# scratch, a CA bundle and a static binary: no toolchain or shell came along.
size=$(inspect '{{.Size}}')
if [ "$size" -gt 0 ] && [ "$size" -lt $((40 << 20)) ]; then
	log "ok: image size $((size >> 20)) MiB"
else
	log "FAIL: image size $size bytes, want under 40 MiB"
	fail=1
fi

# --- run it ----------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 100); do
	port=$((20000 + RANDOM % 40000))
	port_in_use "$port" || break
done
log "running the image with --demo on 127.0.0.1:$port"
container=$("${podman_run[@]}" run -d --network host "$image" --demo \
	--web.listen-address="127.0.0.1:$port" --log.format=json)

deadline=$((SECONDS + 30))
until curl -fsS -o "$tmp/metrics" --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null; do
	if [ "$("${podman_run[@]}" inspect --format '{{.State.Running}}' "$container")" != true ]; then
		log "FAIL: the container exited"
		exit 1
	fi
	[ $SECONDS -lt $deadline ] || { log "FAIL: no /metrics within 30s"; exit 1; }
	sleep 0.5
done
check "/-/healthy" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/healthy")" 200
check "/-/ready" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" 200
check "running as" "$("${podman_run[@]}" top "$container" user 2>/dev/null | awk 'NR==2 {print $1}')" "65534"
# The demo cast: orders, sessions, analytics, scratch-cache, payments,
# inventory and search-index.
check "demo databases" "$(grep -c '^upstash_redis_database_info{' "$tmp/metrics")" 7
check "upstash_up" "$(grep '^upstash_up{' "$tmp/metrics" | awk '{print $2}')" 1
build_info=$(grep '^upstash_backup_exporter_build_info{' "$tmp/metrics" || true)
for want in "version=\"$version\"" "revision=\"$revision\"" 'branch="container-test"'; do
	if [[ $build_info == *"$want"* ]]; then
		log "ok: build_info has $want"
	else
		log "FAIL: build_info lacks $want: $build_info"
		fail=1
	fi
done
if command -v promtool >/dev/null; then
	if lint=$(promtool check metrics <"$tmp/metrics" 2>&1) && [ -z "$lint" ]; then
		log "ok: promtool check metrics reports nothing"
	else
		log "FAIL: promtool check metrics: $lint"
		fail=1
	fi
fi
version_out=$("${podman_run[@]}" run --rm --network host "$image" --version 2>&1 || true)
if [[ $version_out == *"version $version"* && $version_out == *"$build_date"* ]]; then
	log "ok: --version names $version and $build_date"
else
	log "FAIL: --version: $version_out"
	fail=1
fi

[ $fail -eq 0 ] || exit 1
log "ok in ${SECONDS}s"
