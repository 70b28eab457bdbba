#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run name it. It installs what it
# needs (scripts/setup.sh), then runs every check and ends with one line
# "N passed, N failed, N skipped". A check whose tool is missing fails when
# CI=true and is skipped, loudly, elsewhere.
#
#   scripts/test.sh            everything
#   scripts/test.sh go lint    only the named checks (see "checks" below)
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

passed=0 failed=0 skipped=0
failures=()

need() { # need TOOL...: true when every tool is present
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { missing_tool=$t; return 1; }
	done
}

step() { # step NAME TOOLS -- COMMAND...
	local name=$1; shift
	local tools=()
	while [ "$1" != -- ]; do tools+=("$1"); shift; done
	shift
	if [ ${#tools[@]} -gt 0 ] && ! need "${tools[@]}"; then
		if [ "${CI:-}" = true ]; then
			printf '\n### FAIL %s: %s is missing (CI=true)\n' "$name" "$missing_tool"
			failed=$((failed + 1)); failures+=("$name"); return
		fi
		printf '\n### SKIP %s: %s is missing. THIS CHECK DID NOT RUN.\n' "$name" "$missing_tool"
		skipped=$((skipped + 1)); return
	fi
	printf '\n### %s\n' "$name"
	local start=$SECONDS
	if "$@"; then
		printf '### ok %s (%ds)\n' "$name" $((SECONDS - start))
		passed=$((passed + 1))
	else
		printf '### FAIL %s (%ds)\n' "$name" $((SECONDS - start))
		failed=$((failed + 1)); failures+=("$name")
	fi
}

gofmt_clean() {
	local out
	out=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
	[ -z "$out" ] || { echo "gofmt would change: $out"; return 1; }
}

# helm_check lints the chart and renders it with each values file of its
# ci/ folder; deploy's helm_test.go decodes the objects strictly. The
# Kubernetes version is given because a helm built with go install assumes
# v1.20, below the chart's kubeVersion.
helm_check() {
	local chart=deploy/helm/upstash-backup-exporter f
	helm lint --strict --kube-version 1.30.0 "$chart" || return 1
	for f in "$chart"/ci/*.yaml; do
		helm lint --strict --kube-version 1.30.0 "$chart" -f "$f" || return 1
		helm template ci "$chart" --namespace monitoring --kube-version 1.30.0 -f "$f" >/dev/null || return 1
		echo "rendered with $f"
	done
}

export PATH
selected=("$@")
want() { [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }

want fmt && step fmt -- gofmt_clean
want vet && step vet -- go vet ./...
want lint && step lint golangci-lint -- bash -c 'golangci-lint run ./... && cd deploy && golangci-lint run --config ../.golangci.yml ./...'
[ -d .github/workflows ] && want actionlint && step actionlint actionlint -- actionlint
want go && step go-test-race promtool -- go test -race -count=1 ./...
[ -f deploy/go.mod ] && want deploy && step deploy-go-test -- bash -c 'cd deploy && go vet ./... && go test -count=1 ./...'
# Monitoring mixin (deploy/mixin): the files it generates are up to date;
# the rule files pass promtool's checks, and pint's offline
# lint (.pint.hcl) with no problem of severity warning or higher.
[ -x scripts/mixin.sh ] && want mixin && step mixin jsonnet -- scripts/mixin.sh check
# The promtool unit tests of the rules (deploy/prometheus/*_test.yml) run
# once, in the deploy check (deploy/rules_test.go, TestPromtoolTestRules).
[ -f deploy/prometheus/alerts.yml ] && want rules && step promtool-rules promtool -- \
	promtool check rules deploy/prometheus/rules.yml deploy/prometheus/alerts.yml deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml
[ -f .pint.hcl ] && want pint && step pint pint -- \
	pint --offline --no-color --config .pint.hcl lint --min-severity=info --fail-on=warning \
	deploy/prometheus/rules.yml deploy/prometheus/alerts.yml deploy/kubernetes/prometheusrule.yaml \
	deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml
[ -d deploy/helm ] && want helm && step helm helm -- helm_check
[ -x scripts/fuzz.sh ] && want fuzz && step fuzz-short -- scripts/fuzz.sh short
[ -x scripts/bench.sh ] && want bench && step bench-short -- scripts/bench.sh short
[ -x scripts/cpubench.sh ] && want cpubench && step cpubench-short getconf -- scripts/cpubench.sh short
[ -x scripts/e2e-prometheus.sh ] && want e2e && step e2e-prometheus prometheus promtool curl -- scripts/e2e-prometheus.sh
[ -x scripts/e2e-shard.sh ] && want e2e && step e2e-shard prometheus promtool curl -- scripts/e2e-shard.sh
[ -x scripts/e2e-ha.sh ] && want e2e && step e2e-ha prometheus promtool curl -- scripts/e2e-ha.sh
[ -x scripts/container-test.sh ] && want container && step container buildah podman -- scripts/container-test.sh

echo
[ ${#failures[@]} -gt 0 ] && echo "failed checks: ${failures[*]}"
echo "checks: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
