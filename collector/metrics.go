package collector

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metric contract (design/metrics.md). Names, types and labels are the
// exporter's public interface; change them only with a changelog entry.
var (
	backupsDesc = newDesc(
		"upstash_redis_backups",
		"Number of backups that the Upstash list-backup call lists for the database, by Upstash backup state field; pending, completed and failed are always present, any other state is counted as unknown, present when above 0; sum without (state) is the total.",
		[]string{"database_id", "state"})
	newestDesc = newDesc(
		"upstash_redis_backup_newest_timestamp_seconds",
		"Upstash creation_time, in Unix seconds, of the newest backup in any state.",
		[]string{"database_id"})
	lastCompletedDesc = newDesc(
		"upstash_redis_backup_last_completed_timestamp_seconds",
		"Upstash creation_time, in Unix seconds, of the newest backup whose state is completed.",
		[]string{"database_id"})
	lastFailedDesc = newDesc(
		"upstash_redis_backup_last_failed_timestamp_seconds",
		"Upstash creation_time, in Unix seconds, of the newest backup whose state is failed.",
		[]string{"database_id"})
	oldestPendingDesc = newDesc(
		"upstash_redis_backup_oldest_pending_timestamp_seconds",
		"Upstash creation_time, in Unix seconds, of the oldest backup whose state is pending.",
		[]string{"database_id"})
	oldestCompletedDesc = newDesc(
		"upstash_redis_backup_oldest_completed_timestamp_seconds",
		"Upstash creation_time, in Unix seconds, of the oldest completed backup, the start of the restore window.",
		[]string{"database_id"})
	lastCompletedSizeDesc = newDesc(
		"upstash_redis_backup_last_completed_size_bytes",
		"Upstash backup_size of the newest completed backup, absent when that size could not be read (see backup_entries_unreadable); the API does not document its unit, it is treated as bytes like the API's database sizes.",
		[]string{"database_id"})
	retainedSizeDesc = newDesc(
		"upstash_redis_backup_retained_size_bytes",
		"Sum of the Upstash backup_size over the completed backups whose size could be read; the API does not document its unit, it is treated as bytes like the API's database sizes.",
		[]string{"database_id"})
	latestStateDesc = newDesc(
		"upstash_redis_backup_latest_state",
		"Upstash state field of the newest backup: 1 for its state, 0 for the other known states; on a tie in creation_time failed wins over pending over completed.",
		[]string{"database_id", "state"})
	expectedIntervalDesc = newDesc(
		"upstash_redis_backup_expected_interval_seconds",
		"Cadence backups should arrive at: the configured expected_interval, else one hour when a listed backup has Upstash hourly_backup set, else one day when the database has daily_backup_enabled or a listed backup has daily_backup set.",
		[]string{"database_id"})

	requiredRetentionDesc = newDesc(
		"upstash_redis_backup_required_retention_seconds",
		"The configured required_retention of the database: how far back completed Upstash backups must reach; absent when not configured.",
		[]string{"database_id"})
	inRetentionDesc = newDesc(
		"upstash_redis_backups_in_required_retention",
		"Number of completed Upstash backups created within the required retention before the list was read; present when required_retention is configured.",
		[]string{"database_id"})
	largestGapDesc = newDesc(
		"upstash_redis_backup_largest_gap_seconds",
		"Longest time between two consecutive completed Upstash backups, over the pairs whose later backup is within the required retention (every pair when none is configured); absent without such a pair. The time since the newest completed backup is not included: take it from upstash_redis_backup_last_completed_timestamp_seconds.",
		[]string{"database_id"})
	medianSizeDesc = newDesc(
		"upstash_redis_backup_earlier_completed_size_median_bytes",
		"Median Upstash backup_size of the completed backups created before the newest completed one, to compare the newest with; present when at least 3 of them have a readable size.",
		[]string{"database_id"})

	databaseInfoDesc = newDesc(
		"upstash_redis_database_info",
		"Always 1: the database as Upstash list-databases describes it; plan is the API's type field, database_name the configured name when one is set.",
		[]string{"database_id", "database_name", "account", "plan", "region", "primary_region", "state"})
	dailyBackupEnabledDesc = newDesc(
		"upstash_redis_database_daily_backup_enabled",
		"1 when the Upstash daily_backup_enabled field of the database is true, else 0.",
		[]string{"database_id"})

	databasesDesc = newDesc(
		"upstash_redis_databases",
		"Number of databases the account's last successful Upstash list-databases answer listed, before include and exclude; absent until one succeeded.",
		[]string{"account"})

	upDesc = newDesc(
		"upstash_up",
		"1 when the account's latest finished refresh reached the Upstash Developer API with accepted credentials: at least one call answered 2xx and none answered 401 or 403; 0 before the first refresh has finished. A refresh that makes no call, or only reads again databases whose last read failed and fails again without a 401 or 403, leaves it as it was.",
		[]string{"account"})
	collectSuccessDesc = newDesc(
		"upstash_backup_exporter_collect_success",
		"1 when the latest finished Upstash list-backup read of the database succeeded, else 0; a read still in flight does not count, and the series is absent until the first read has finished.",
		[]string{"database_id"})
	lastCollectSuccessDesc = newDesc(
		"upstash_backup_exporter_last_collect_success_timestamp_seconds",
		"Unix time at which the database's Upstash list-backup call last succeeded.",
		[]string{"database_id"})
	entriesUnreadableDesc = newDesc(
		"upstash_backup_exporter_backup_entries_unreadable",
		"Number of entries of the database's last successful Upstash list-backup answer that could not be read as given, by reason: backup_size keeps the entry without a size, every other reason leaves it out of every upstash_redis_backup* series; only reasons with entries are exported.",
		[]string{"database_id", "reason"})
	collectDurationDesc = newDesc(
		"upstash_backup_exporter_collect_duration_seconds",
		"Seconds this collection waited for the shared refresh of the Upstash Developer API: the whole refresh when it ended in time, else up to the scrape's deadline.",
		nil)
)

// family is what a Gather of the series of one Desc needs to know: a Desc
// keeps its name, help and label names to itself.
type family struct {
	name, help string
	labels     []string
	// byName lists the indexes of labels in the order of their names,
	// the order of a metric's label pairs.
	byName []int
}

// families holds the family of every Desc of the contract.
var families = map[*prometheus.Desc]*family{}

// newDesc makes a Desc of a gauge family and records its family.
func newDesc(name, help string, labels []string) *prometheus.Desc {
	f := &family{name: name, help: help, labels: labels}
	for i := range labels {
		f.byName = append(f.byName, i)
	}
	slices.SortFunc(f.byName, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	d := prometheus.NewDesc(name, help, labels, nil)
	families[d] = f
	return d
}

// allDescs is what Collector.Describe sends.
var allDescs = []*prometheus.Desc{
	backupsDesc, newestDesc, lastCompletedDesc, lastFailedDesc,
	oldestPendingDesc, oldestCompletedDesc, lastCompletedSizeDesc, retainedSizeDesc,
	latestStateDesc, expectedIntervalDesc, requiredRetentionDesc, inRetentionDesc, largestGapDesc, medianSizeDesc,
	databaseInfoDesc, dailyBackupEnabledDesc, databasesDesc,
	upDesc, collectSuccessDesc, lastCollectSuccessDesc, collectDurationDesc,
	entriesUnreadableDesc,
}

// APIMetrics counts and times Developer API calls. It belongs on the
// exporter's static registry: its counters live for the process, unlike the
// per-collection series of Collector.
type APIMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	held     *prometheus.GaugeVec
}

// NewAPIMetrics makes the api_requests_total counter and
// api_request_duration_seconds histogram. Series appear with the first call.
func NewAPIMetrics() *APIMetrics {
	return &APIMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstash_backup_exporter_api_requests_total",
			Help: "Upstash Developer API calls made, by endpoint and HTTP status code, or timeout or error when no status came back.",
		}, []string{"account", "endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "upstash_backup_exporter_api_request_duration_seconds",
			Help:    "Latency of Upstash Developer API calls, by endpoint.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"account", "endpoint"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstash_backup_exporter_api_held_until_timestamp_seconds",
			Help: "Unix time until which calls to this endpoint are held back because the Upstash API answered 429 with Retry-After (capped by --upstash.max-retry-after); 0 when no hold is in force.",
		}, []string{"account", "endpoint"}),
	}
}

// Describe implements prometheus.Collector.
func (m *APIMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	m.held.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *APIMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	m.held.Collect(ch)
}

// Observer is the upstash.Config.Observe hook for one account's client: it
// records each call's endpoint, code and duration.
func (m *APIMetrics) Observer(account string) func(endpoint, code string, d time.Duration) {
	return func(endpoint, code string, d time.Duration) {
		m.requests.WithLabelValues(account, endpoint, code).Inc()
		m.duration.WithLabelValues(account, endpoint).Observe(d.Seconds())
	}
}

// HoldObserver is the upstash.Config.ObserveHold hook for one account's
// client: it shows a Retry-After hold, and its end, per endpoint.
func (m *APIMetrics) HoldObserver(account string) func(endpoint string, until time.Time) {
	return func(endpoint string, until time.Time) {
		v := 0.0
		if !until.IsZero() {
			v = unixSeconds(until)
		}
		m.held.WithLabelValues(account, endpoint).Set(v)
	}
}
