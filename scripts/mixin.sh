#!/usr/bin/env bash
# Renders the files generated from the monitoring mixin in deploy/mixin:
#   deploy/prometheus/alerts.yml, deploy/prometheus/rules.yml,
#   deploy/grafana/upstash-backups.json, deploy/kubernetes/prometheusrule.yaml
#   and deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml.
#
#   scripts/mixin.sh          regenerates them
#   scripts/mixin.sh check    renders them into a temporary directory and
#                             fails, with a diff, when one is out of date
#
# Needs jsonnet (go-jsonnet; scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-generate}
case $mode in
generate | check) ;;
*)
	echo "usage: $0 [check]" >&2
	exit 2
	;;
esac

jsonnet=$(command -v jsonnet || true)
if [ -z "$jsonnet" ]; then
	echo "jsonnet is missing: scripts/setup.sh installs it" >&2
	exit 1
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/upstash-mixin.XXXXXX")
trap 'rm -rf "$out"' EXIT

# -S: each value is the file's text; -m: one file per key, a path from the
# repository root.
"$jsonnet" -S -c -m "$out" -J deploy/mixin deploy/mixin/generate.jsonnet >"$out/.list"

status=0
while read -r path; do
	rel=${path#"$out"/}
	if [ "$mode" = check ]; then
		if ! diff -u --label "$rel (committed)" --label "$rel (generated)" "$rel" "$path"; then
			echo "$rel is out of date: run scripts/mixin.sh" >&2
			status=1
		fi
	elif ! cmp -s "$path" "$rel"; then
		mkdir -p "$(dirname "$rel")"
		cp "$path" "$rel"
		echo "wrote $rel"
	fi
done <"$out/.list"
[ "$mode" = check ] && [ $status = 0 ] && echo "every file generated from deploy/mixin is up to date"
exit $status
