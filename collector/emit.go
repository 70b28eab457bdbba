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

func (r refreshed) emit(out *sink) {
	for _, a := range r.c.snapshot() {
		a.emit(out)
	}
	out.add(collectDurationDesc, r.duration.Seconds())
}

func (r refreshed) Collect(ch chan<- prometheus.Metric) { r.emit(&sink{ch: ch}) }

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

func (v *accountView) emit(out *sink) {
	for i := range v.databases {
		v.databases[i].emit(out, v.name)
	}
	out.add(upDesc, boolValue(v.up), v.name)
	if v.hasListing {
		out.add(databasesDesc, float64(v.listed), v.name)
	}
}

func (d *databaseView) emit(out *sink, account string) {
	id := d.id
	if d.listed {
		out.add(databaseInfoDesc, 1, id, d.name, account, d.info.Plan, d.info.Region, d.info.PrimaryRegion, d.info.State)
		out.add(dailyBackupEnabledDesc, boolValue(d.info.DailyBackupEnabled), id)
	}
	if d.lastRead.finished {
		out.add(collectSuccessDesc, boolValue(d.lastRead.ok), id)
	}
	if !d.lastSuccess.IsZero() {
		out.add(lastCollectSuccessDesc, unixSeconds(d.lastSuccess), id)
	}
	if !d.hasStats {
		return
	}
	s := &d.stats
	for _, u := range d.unreadable {
		out.add(entriesUnreadableDesc, float64(u.count), id, u.reason)
	}
	// States in the order of their names, the order of the family's series.
	out.add(backupsDesc, float64(s.Completed), id, upstash.StateCompleted)
	out.add(backupsDesc, float64(s.Failed), id, upstash.StateFailed)
	out.add(backupsDesc, float64(s.Pending), id, upstash.StatePending)
	if s.Unknown > 0 {
		out.add(backupsDesc, float64(s.Unknown), id, StateUnknown)
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
			out.add(t.desc, float64(t.ts.Unix), id)
		}
	}
	if s.LastCompleted.Valid && !s.LastCompletedSizeUnknown {
		out.add(lastCompletedSizeDesc, float64(s.LastCompletedSizeBytes), id)
	}
	out.add(retainedSizeDesc, float64(s.RetainedSizeBytes), id)
	if s.LatestState != "" {
		for _, state := range []string{upstash.StateCompleted, upstash.StateFailed, upstash.StatePending} {
			out.add(latestStateDesc, boolValue(s.LatestState == state), id, state)
		}
		if s.LatestState == StateUnknown {
			out.add(latestStateDesc, 1, id, StateUnknown)
		}
	}
	if s.ExpectedInterval > 0 {
		out.add(expectedIntervalDesc, s.ExpectedInterval.Seconds(), id)
	}
	c := &s.Chain
	if c.RequiredRetention > 0 {
		out.add(requiredRetentionDesc, c.RequiredRetention.Seconds(), id)
		out.add(inRetentionDesc, float64(c.InRetention), id)
	}
	if c.LargestGapValid {
		out.add(largestGapDesc, c.LargestGap.Seconds(), id)
	}
	if c.MedianEarlierSizeValid {
		out.add(medianSizeDesc, float64(c.MedianEarlierSize), id)
	}
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
