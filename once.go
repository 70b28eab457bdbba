package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Exit codes of --once.
const (
	onceHealthy   = 0
	onceUnhealthy = 1
	onceBroken    = 2
)

// The verdicts of --once, the same judgements the shipped alerts make,
// without their "for" durations: a report is one look, not a watch.
const (
	verdictOK          = "ok"
	verdictUnreadable  = "unreadable"
	verdictNever       = "never completed"
	verdictStale       = "no recent completed"
	verdictFailed      = "latest failed"
	verdictStuck       = "stuck pending"
	verdictDailyOff    = "daily backup off"
	verdictWindow      = "restore window not covered"
	verdictGap         = "gap in the chain"
	verdictShrank      = "backup shrank"
	gapFactor          = 1.5           // UpstashBackupChainGap's, of the expected interval
	shrinkRatio        = 0.5           // UpstashBackupShrank's, of the earlier median
	staleGrace         = 2 * time.Hour // UpstashBackupNoRecentCompleted's
	defaultInterval    = 24 * time.Hour
	stuckPendingAfter  = 3 * time.Hour // UpstashBackupStuckPending's
	accountUnreadable  = "unreadable"
	accountNoDatabases = "lists no databases"
)

// statusReport is what --once prints: every account and watched database,
// read once through the collector, as /metrics would show them.
type statusReport struct {
	// Source is where the configuration came from; for --demo it says
	// the data is simulated.
	Source    string           `json:"config_source"`
	Time      time.Time        `json:"time"`
	Healthy   bool             `json:"healthy"`
	Accounts  []accountStatus  `json:"accounts"`
	Databases []databaseStatus `json:"databases"`
}

type accountStatus struct {
	Name      string `json:"name"`
	Up        bool   `json:"up"`
	Databases *int   `json:"databases_listed,omitempty"`
	Verdict   string `json:"verdict"`
}

type databaseStatus struct {
	ID      string `json:"database_id"`
	Name    string `json:"database_name,omitempty"`
	Account string `json:"account,omitempty"`
	// LatestState is the state of the newest backup; "" without one.
	LatestState string `json:"latest_state,omitempty"`
	// Times are Unix seconds; absent when no backup qualifies.
	LastCompleted   *int64 `json:"last_completed,omitempty"`
	OldestCompleted *int64 `json:"oldest_completed,omitempty"`
	OldestPending   *int64 `json:"oldest_pending,omitempty"`
	// SizeBytes is the newest completed backup's size, when known.
	SizeBytes        *int64 `json:"last_completed_size_bytes,omitempty"`
	ExpectedInterval *int64 `json:"expected_interval_seconds,omitempty"`
	// DailyBackup is the database's daily_backup_enabled, when listed.
	DailyBackup *bool `json:"daily_backup_enabled,omitempty"`
	// The restore window: the configured required_retention, the completed
	// backups within it, the largest gap between completed backups and the
	// median size of the completed backups before the newest.
	RequiredRetention *int64 `json:"required_retention_seconds,omitempty"`
	InRetention       *int64 `json:"completed_in_required_retention,omitempty"`
	LargestGap        *int64 `json:"largest_gap_seconds,omitempty"`
	EarlierMedianSize *int64 `json:"earlier_completed_size_median_bytes,omitempty"`
	Readable          bool   `json:"readable"`
	Verdict           string `json:"verdict"`
}

// runOnce refreshes e's collector once, within timeout, prints the report
// to w as a table or JSON, and returns the exit code: 0 when every database
// is healthy, 1 when one is not, 2 when an account or a database could not
// be read.
func runOnce(ctx context.Context, e *exporter, timeout time.Duration, format string, w io.Writer, now time.Time) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.collector.Refresh(ctx))
	families, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(w, "could not gather the metrics: %v\n", err)
		return onceBroken
	}
	r := buildReport(families, now)
	r.Source = e.config.Get().Source
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r) // a write error has nowhere to go
	} else {
		writeTable(w, r)
	}
	return r.exitCode()
}

func (r *statusReport) exitCode() int {
	code := onceHealthy
	for _, a := range r.Accounts {
		switch a.Verdict {
		case accountUnreadable:
			return onceBroken
		case accountNoDatabases:
			code = onceUnhealthy
		}
	}
	for _, d := range r.Databases {
		switch d.Verdict {
		case verdictUnreadable:
			return onceBroken
		case verdictOK:
		default:
			code = onceUnhealthy
		}
	}
	return code
}

// buildReport reads the report from the collector's series.
func buildReport(families []*dto.MetricFamily, now time.Time) *statusReport {
	r := &statusReport{Time: now.UTC().Truncate(time.Second)}
	accounts := map[string]*accountStatus{}
	databases := map[string]*databaseStatus{}
	account := func(name string) *accountStatus {
		if accounts[name] == nil {
			accounts[name] = &accountStatus{Name: name}
		}
		return accounts[name]
	}
	database := func(id string) *databaseStatus {
		if databases[id] == nil {
			databases[id] = &databaseStatus{ID: id}
		}
		return databases[id]
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetGauge().GetValue()
			seconds := int64(math.Round(v))
			id := labels["database_id"]
			switch f.GetName() {
			case "upstash_up":
				account(labels["account"]).Up = v == 1
			case "upstash_redis_databases":
				n := int(v)
				account(labels["account"]).Databases = &n
			case "upstash_redis_database_info":
				d := database(id)
				d.Name, d.Account = labels["database_name"], labels["account"]
			case "upstash_backup_exporter_collect_success":
				database(id).Readable = v == 1
			case "upstash_redis_backup_latest_state":
				if v == 1 {
					database(id).LatestState = labels["state"]
				}
			case "upstash_redis_backup_last_completed_timestamp_seconds":
				database(id).LastCompleted = &seconds
			case "upstash_redis_backup_oldest_completed_timestamp_seconds":
				database(id).OldestCompleted = &seconds
			case "upstash_redis_backup_oldest_pending_timestamp_seconds":
				database(id).OldestPending = &seconds
			case "upstash_redis_backup_last_completed_size_bytes":
				database(id).SizeBytes = &seconds
			case "upstash_redis_backup_required_retention_seconds":
				database(id).RequiredRetention = &seconds
			case "upstash_redis_backups_in_required_retention":
				database(id).InRetention = &seconds
			case "upstash_redis_backup_largest_gap_seconds":
				database(id).LargestGap = &seconds
			case "upstash_redis_backup_earlier_completed_size_median_bytes":
				database(id).EarlierMedianSize = &seconds
			case "upstash_redis_database_daily_backup_enabled":
				on := v == 1
				database(id).DailyBackup = &on
			case "upstash_redis_backup_expected_interval_seconds":
				database(id).ExpectedInterval = &seconds
			}
		}
	}
	for _, a := range accounts {
		switch {
		case !a.Up:
			a.Verdict = accountUnreadable
		case a.Databases != nil && *a.Databases == 0:
			a.Verdict = accountNoDatabases
		default:
			a.Verdict = verdictOK
		}
		r.Accounts = append(r.Accounts, *a)
	}
	for _, d := range databases {
		d.Verdict = d.verdict(now)
		r.Databases = append(r.Databases, *d)
	}
	slices.SortFunc(r.Accounts, func(a, b accountStatus) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(r.Databases, func(a, b databaseStatus) int {
		return strings.Compare(a.Account+"\x00"+a.Name+"\x00"+a.ID, b.Account+"\x00"+b.Name+"\x00"+b.ID)
	})
	r.Healthy = r.exitCode() == onceHealthy
	return r
}

// verdict judges a database as the shipped alerts do.
func (d *databaseStatus) verdict(now time.Time) string {
	age := func(ts int64) time.Duration { return now.Sub(time.Unix(ts, 0)) }
	interval := defaultInterval
	if d.ExpectedInterval != nil {
		interval = time.Duration(*d.ExpectedInterval) * time.Second
	}
	switch {
	case !d.Readable:
		return verdictUnreadable
	case d.LastCompleted == nil && d.DailyBackup != nil && !*d.DailyBackup:
		return verdictDailyOff
	case d.LastCompleted == nil:
		return verdictNever
	case d.LatestState == "failed":
		return verdictFailed
	case age(*d.LastCompleted) > interval+staleGrace:
		return verdictStale
	case d.OldestPending != nil && age(*d.OldestPending) > stuckPendingAfter:
		return verdictStuck
	case d.RequiredRetention != nil && (d.OldestCompleted == nil || d.InRetention == nil || *d.InRetention == 0 ||
		age(*d.OldestCompleted) < time.Duration(*d.RequiredRetention)*time.Second):
		return verdictWindow
	case d.LargestGap != nil && float64(*d.LargestGap) > gapFactor*interval.Seconds():
		return verdictGap
	case d.EarlierMedianSize != nil && d.SizeBytes != nil && float64(*d.SizeBytes) < shrinkRatio*float64(*d.EarlierMedianSize):
		return verdictShrank
	}
	return verdictOK
}
