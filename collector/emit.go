package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// refreshed reports the state the refreshes left.
type refreshed struct {
	c        *Collector
	duration time.Duration
}

func (r refreshed) Describe(ch chan<- *prometheus.Desc) { r.c.Describe(ch) }

func (r refreshed) Collect(ch chan<- prometheus.Metric) {
	for _, a := range r.c.snapshot() {
		a.emit(ch)
	}
	ch <- prometheus.MustNewConstMetric(collectDurationDesc, prometheus.GaugeValue, r.duration.Seconds())
}

// accountView and databaseView are a collection's copy of the state, taken
// under the lock and turned into metrics outside it.
type accountView struct {
	name string
	up   bool
	// listed is how many databases the last successful listing listed;
	// hasListing is false before one succeeded.
	listed     int
	hasListing bool
	databases  []databaseView
}

type databaseView struct {
	id     string
	info   upstash.Database
	listed bool
	name   string
	// lastRead.finished is false while the database's first read has not
	// ended: collect_success is then absent rather than 0.
	lastRead    readResult
	lastSuccess time.Time
	stats       BackupStats
	hasStats    bool
	unreadable  []unreadable
}

// snapshot copies what a collection reports: the results of the latest
// finished reads and refreshes. A
// database listed by an earlier account is left out of later ones: series
// carry database_id only and would collide.
func (c *Collector) snapshot() []accountView {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	views := make([]accountView, 0, len(c.accounts))
	for _, a := range c.accounts {
		v := accountView{
			name:       a.cfg.Name,
			up:         a.up,
			listed:     a.listedCount,
			hasListing: a.hasListing,
			databases:  make([]databaseView, 0, len(a.watched)),
		}
		for _, d := range a.watched {
			if seen[d.id] {
				continue
			}
			seen[d.id] = true
			info, listed := a.listing[d.id]
			name := info.Name
			if d.name != "" {
				name = d.name
			}
			v.databases = append(v.databases, databaseView{
				id:          d.id,
				info:        info,
				listed:      listed,
				name:        name,
				lastRead:    d.lastRead,
				lastSuccess: d.lastSuccess,
				stats:       d.stats,
				hasStats:    d.hasStats,
				unreadable:  d.unreadable,
			})
		}
		views = append(views, v)
	}
	return views
}

func (v *accountView) emit(ch chan<- prometheus.Metric) {
	for i := range v.databases {
		v.databases[i].emit(ch, v.name)
	}
	ch <- gauge(upDesc, boolValue(v.up), v.name)
	if v.hasListing {
		ch <- gauge(databasesDesc, float64(v.listed), v.name)
	}
}

func (d *databaseView) emit(ch chan<- prometheus.Metric, account string) {
	id := d.id
	if d.listed {
		ch <- gauge(databaseInfoDesc, 1, id, d.name, account, d.info.Plan, d.info.Region, d.info.PrimaryRegion, d.info.State)
		ch <- gauge(dailyBackupEnabledDesc, boolValue(d.info.DailyBackupEnabled), id)
	}
	if d.lastRead.finished {
		ch <- gauge(collectSuccessDesc, boolValue(d.lastRead.ok), id)
	}
	if !d.lastSuccess.IsZero() {
		ch <- gauge(lastCollectSuccessDesc, unixSeconds(d.lastSuccess), id)
	}
	if !d.hasStats {
		return
	}
	s := &d.stats
	for _, u := range d.unreadable {
		ch <- gauge(entriesUnreadableDesc, float64(u.count), id, u.reason)
	}
	ch <- gauge(backupsDesc, float64(s.Pending), id, upstash.StatePending)
	ch <- gauge(backupsDesc, float64(s.Completed), id, upstash.StateCompleted)
	ch <- gauge(backupsDesc, float64(s.Failed), id, upstash.StateFailed)
	if s.Unknown > 0 {
		ch <- gauge(backupsDesc, float64(s.Unknown), id, StateUnknown)
	}
	for _, t := range []struct {
		desc *prometheus.Desc
		ts   Timestamp
	}{
		{newestDesc, s.Newest},
		{lastCompletedDesc, s.LastCompleted},
		{lastFailedDesc, s.LastFailed},
		{oldestPendingDesc, s.OldestPending},
		{oldestCompletedDesc, s.OldestCompleted},
	} {
		if t.ts.Valid {
			ch <- gauge(t.desc, float64(t.ts.Unix), id)
		}
	}
	if s.LastCompleted.Valid && !s.LastCompletedSizeUnknown {
		ch <- gauge(lastCompletedSizeDesc, float64(s.LastCompletedSizeBytes), id)
	}
	ch <- gauge(retainedSizeDesc, float64(s.RetainedSizeBytes), id)
	if s.LatestState != "" {
		for _, state := range []string{upstash.StatePending, upstash.StateCompleted, upstash.StateFailed} {
			ch <- gauge(latestStateDesc, boolValue(s.LatestState == state), id, state)
		}
		if s.LatestState == StateUnknown {
			ch <- gauge(latestStateDesc, 1, id, StateUnknown)
		}
	}
	if s.ExpectedInterval > 0 {
		ch <- gauge(expectedIntervalDesc, s.ExpectedInterval.Seconds(), id)
	}
	c := &s.Chain
	if c.RequiredRetention > 0 {
		ch <- gauge(requiredRetentionDesc, c.RequiredRetention.Seconds(), id)
		ch <- gauge(inRetentionDesc, float64(c.InRetention), id)
	}
	if c.LargestGapValid {
		ch <- gauge(largestGapDesc, c.LargestGap.Seconds(), id)
	}
	if c.MedianEarlierSizeValid {
		ch <- gauge(medianSizeDesc, float64(c.MedianEarlierSize), id)
	}
}

func gauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
