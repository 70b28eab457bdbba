package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// contract is the exporter's metric contract (design/metrics.md, with the
// additions CHANGELOG.md lists): every
// metric family it emits besides the go_, process_ and promhttp_ ones, with
// its type. The end-to-end test compares it with a running exporter's
// /metrics, so a drift on either side fails there.
var contract = map[string]string{
	"upstash_redis_backups":                                                "gauge",
	"upstash_redis_backup_newest_timestamp_seconds":                        "gauge",
	"upstash_redis_backup_last_completed_timestamp_seconds":                "gauge",
	"upstash_redis_backup_last_failed_timestamp_seconds":                   "gauge",
	"upstash_redis_backup_oldest_pending_timestamp_seconds":                "gauge",
	"upstash_redis_backup_oldest_completed_timestamp_seconds":              "gauge",
	"upstash_redis_backup_last_completed_size_bytes":                       "gauge",
	"upstash_redis_backup_retained_size_bytes":                             "gauge",
	"upstash_redis_backup_latest_state":                                    "gauge",
	"upstash_redis_backup_expected_interval_seconds":                       "gauge",
	"upstash_redis_database_info":                                          "gauge",
	"upstash_redis_database_daily_backup_enabled":                          "gauge",
	"upstash_redis_databases":                                              "gauge",
	"upstash_up":                                                           "gauge",
	"upstash_backup_exporter_collect_success":                              "gauge",
	"upstash_backup_exporter_last_collect_success_timestamp_seconds":       "gauge",
	"upstash_backup_exporter_collect_duration_seconds":                     "gauge",
	"upstash_backup_exporter_backup_entries_unreadable":                    "gauge",
	"upstash_backup_exporter_api_held_until_timestamp_seconds":             "gauge",
	"upstash_backup_exporter_api_requests_total":                           "counter",
	"upstash_backup_exporter_api_request_duration_seconds":                 "histogram",
	"upstash_backup_exporter_config_last_reload_successful":                "gauge",
	"upstash_backup_exporter_config_last_reload_success_timestamp_seconds": "gauge",
	"upstash_backup_exporter_build_info":                                   "gauge",
	"upstash_backup_exporter_shard_index":                                  "gauge",
	"upstash_backup_exporter_shards":                                       "gauge",
	"upstash_redis_backup_required_retention_seconds":                      "gauge",
	"upstash_redis_backups_in_required_retention":                          "gauge",
	"upstash_redis_backup_largest_gap_seconds":                             "gauge",
	"upstash_redis_backup_earlier_completed_size_median_bytes":             "gauge",
}

// optional are the contract's families that have no series while nothing
// is wrong: entries are counted by reason only when some were unreadable,
// and a hold is shown only once the API has asked for one. The end-to-end
// test checks their type when they are there and does not require them.
var optional = map[string]bool{
	"upstash_backup_exporter_backup_entries_unreadable":        true,
	"upstash_backup_exporter_api_held_until_timestamp_seconds": true,
}

// seriesNames returns the names a query may select: the contract's
// families, with the _bucket, _sum and _count series of histograms.
func seriesNames() map[string]bool {
	names := map[string]bool{}
	for name, typ := range contract {
		if typ == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
			continue
		}
		names[name] = true
	}
	return names
}

// externalNames are series a rule may select although the exporter does not
// emit them: Prometheus writes up for every target.
var externalNames = map[string]bool{"up": true}

var promql = parser.NewParser(parser.Options{})

// selectedMetrics parses expr and returns the metric names its selectors
// select. A selector without a literal metric name is an error: it could
// select anything.
func selectedMetrics(expr string) ([]string, error) {
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	found := map[string]bool{}
	var walkErr error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			walkErr = fmt.Errorf("%q: selector %s names no metric", expr, vs)
			return walkErr
		}
		found[vs.Name] = true
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	return slices.Sorted(maps.Keys(found)), nil
}

// unknownMetrics returns the names expr selects that are neither in the
// contract nor in allowed.
func unknownMetrics(expr string, allowed map[string]bool) ([]string, error) {
	names, err := selectedMetrics(expr)
	if err != nil {
		return nil, err
	}
	known := seriesNames()
	var unknown []string
	for _, name := range names {
		if !known[name] && !allowed[name] {
			unknown = append(unknown, name)
		}
	}
	return unknown, nil
}

// isExporterFamily tells the families the contract must cover from the
// client library's standard ones.
func isExporterFamily(name string) bool {
	return strings.HasPrefix(name, "upstash_")
}
