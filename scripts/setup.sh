#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Go itself:
# Debian's prometheus package (promtool and a real Prometheus server),
# buildah and podman for the container test; golangci-lint, actionlint,
# helm, and jsonnet and pint for the monitoring mixin (pinned, built through
# the Go module proxy). Safe to run again: it installs only
# what is missing. Source it to get GOLANGCI_LINT set.
set -euo pipefail

GOLANGCI_LINT_VERSION=v2.15.0
ACTIONLINT_VERSION=v1.7.12
HELM_VERSION=v3.22.0
JSONNET_VERSION=v0.22.0 # go-jsonnet: scripts/mixin.sh
PINT_VERSION=v0.69.1    # rule linter: .pint.hcl; pinned in scripts/tools/pint/go.mod

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		return 1
	fi
}

apt_updated=0
apt_install() {
	local missing=()
	for pair in "$@"; do
		local cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		say "cannot install ${missing[*]}: no apt-get on this machine"
		return 1
	fi
	say "installing Debian packages: ${missing[*]}"
	if [ $apt_updated = 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
		apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

setup_failed=0
apt_install promtool:prometheus prometheus:prometheus amtool:prometheus-alertmanager curl:curl ||
	{ say "could not install prometheus and alertmanager (promtool, amtool, the servers)"; setup_failed=1; }
apt_install buildah:buildah podman:podman runc:runc busybox:busybox-static ||
	{ say "could not install buildah/podman (container test)"; setup_failed=1; }

gobin=$(go env GOPATH)/bin
GOLANGCI_LINT=$gobin/golangci-lint

# The Go tools build side by side: their downloads and link steps overlap.
# build KEY COMMAND...: COMMAND in the background, its output kept in a log
# that is shown if it fails.
setup_logs=$(mktemp -d)
builds=()
build() {
	local key=$1
	shift
	"$@" >"$setup_logs/$key.log" 2>&1 &
	builds+=("$!:$key")
}
go_install() { (cd / && GOFLAGS= GOBIN=$gobin go install "$1"); }
if ! "$GOLANGCI_LINT" version 2>/dev/null | grep -q "${GOLANGCI_LINT_VERSION#v}"; then
	say "building golangci-lint $GOLANGCI_LINT_VERSION (once; takes a few minutes)"
	build golangci-lint go_install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
if ! "$gobin/actionlint" -version 2>/dev/null | grep -q "${ACTIONLINT_VERSION#v}"; then
	say "building actionlint $ACTIONLINT_VERSION"
	build actionlint go_install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
# helm: lints and renders the chart in deploy/helm (the test step helm and
# deploy's helm_test.go). Built with go install, helm reports its version
# as major.minor only, hence the comparison without the patch level.
if ! "$gobin/helm" version --short 2>/dev/null | grep -q "^${HELM_VERSION%.0}"; then
	say "building helm $HELM_VERSION"
	build helm go_install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
# The monitoring mixin (deploy/mixin): jsonnet renders it, pint lints the
# rules it renders.
if ! "$gobin/jsonnet" --version 2>/dev/null | grep -q "${JSONNET_VERSION}"; then
	say "building jsonnet $JSONNET_VERSION"
	build jsonnet go_install "github.com/google/go-jsonnet/cmd/jsonnet@$JSONNET_VERSION"
fi
# pint is built from a module of its own, scripts/tools/pint, whose go.mod
# and go.sum pin it and every dependency: go install pint@version asks the
# proxy for pint's version list, which it refuses.
pint_stamp=$gobin/.pint-$PINT_VERSION
pint_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/tools/pint" && pwd)
build_pint() { (cd "$pint_dir" && GOFLAGS= go build -o "$gobin/pint" github.com/cloudflare/pint/cmd/pint) && touch "$pint_stamp"; }
if [ ! -x "$gobin/pint" ] || [ ! -e "$pint_stamp" ]; then
	say "building pint $PINT_VERSION"
	build pint build_pint
fi
for b in "${builds[@]}"; do
	if ! wait "${b%%:*}"; then
		say "could not build ${b#*:}:"
		tail -n 20 "$setup_logs/${b#*:}.log" >&2
		setup_failed=1
	fi
done
rm -rf "$setup_logs"
export GOLANGCI_LINT
export PATH=$gobin:$PATH
if [ $setup_failed != 0 ]; then
	if [ "${CI:-}" = true ]; then
		say "set-up failed and CI=true: tests that need these tools will fail"
	else
		say "set-up incomplete: tests that need the missing tools will SKIP loudly"
	fi
fi
