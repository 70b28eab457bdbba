package collector

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// refreshed reports the state the refreshes left.
type refreshed struct {
	c        *Collector
	duration time.Duration
}

func (r refreshed) Describe(ch chan<- *prometheus.Desc) { r.c.Describe(ch) }

// series receives the series of a collection, one at a time: every one
// is a gauge of desc with these label values.
type series func(desc *prometheus.Desc, v float64, labels ...string)

func (r refreshed) emit(out series) {
	for _, a := range r.c.snapshot() {
		a.emit(out)
	}
	out(collectDurationDesc, r.duration.Seconds())
}

func (r refreshed) Collect(ch chan<- prometheus.Metric) {
	r.emit(func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	})
}

// Gather implements prometheus.Gatherer: the families a Registry would
// gather from Collect, made without one. A Registry passes each series
// through a channel and checks it against its Desc and the series before
// it; these series come from the fixed Descs of metrics.go with one set of
// label values each, so the checks cost a scrape as much again and can
// only find a label value that is not valid UTF-8. A collection with one
// is gathered through a Registry, which reports it as it always has.
func (r refreshed) Gather() ([]*dto.MetricFamily, error) {
	byDesc := map[*prometheus.Desc]*dto.MetricFamily{}
	valid := true
	r.emit(func(desc *prometheus.Desc, v float64, labels ...string) {
		f := families[desc]
		mf := byDesc[desc]
		if mf == nil {
			mf = &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: dto.MetricType_GAUGE.Enum()}
			byDesc[desc] = mf
		}
		m := &dto.Metric{Gauge: &dto.Gauge{Value: &v}}
		if len(labels) > 0 {
			pairs := make([]dto.LabelPair, len(labels))
			m.Label = make([]*dto.LabelPair, len(labels))
			for i, j := range f.byName {
				valid = valid && utf8.ValidString(labels[j])
				pairs[i].Name, pairs[i].Value = &f.labels[j], &labels[j]
				m.Label[i] = &pairs[i]
			}
		}
		mf.Metric = append(mf.Metric, m)
	})
	if !valid {
		reg := prometheus.NewRegistry()
		if err := reg.Register(r); err != nil {
			return nil, err
		}
		return reg.Gather()
	}
	mfs := make([]*dto.MetricFamily, 0, len(byDesc))
	for _, mf := range byDesc {
		slices.SortFunc(mf.Metric, compareLabels)
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, nil
}

// compareLabels orders the series of a family as a Registry does: by
// their label values, in the order of the label names.
func compareLabels(a, b *dto.Metric) int {
	if c := cmp.Compare(len(a.Label), len(b.Label)); c != 0 {
		return c
	}
	for i := range a.Label {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
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

func (v *accountView) emit(out series) {
	for i := range v.databases {
		v.databases[i].emit(out, v.name)
	}
	out(upDesc, boolValue(v.up), v.name)
	if v.hasListing {
		out(databasesDesc, float64(v.listed), v.name)
	}
}

func (d *databaseView) emit(out series, account string) {
	id := d.id
	if d.listed {
		out(databaseInfoDesc, 1, id, d.name, account, d.info.Plan, d.info.Region, d.info.PrimaryRegion, d.info.State)
		out(dailyBackupEnabledDesc, boolValue(d.info.DailyBackupEnabled), id)
	}
	if d.lastRead.finished {
		out(collectSuccessDesc, boolValue(d.lastRead.ok), id)
	}
	if !d.lastSuccess.IsZero() {
		out(lastCollectSuccessDesc, unixSeconds(d.lastSuccess), id)
	}
	if !d.hasStats {
		return
	}
	s := &d.stats
	for _, u := range d.unreadable {
		out(entriesUnreadableDesc, float64(u.count), id, u.reason)
	}
	out(backupsDesc, float64(s.Pending), id, upstash.StatePending)
	out(backupsDesc, float64(s.Completed), id, upstash.StateCompleted)
	out(backupsDesc, float64(s.Failed), id, upstash.StateFailed)
	if s.Unknown > 0 {
		out(backupsDesc, float64(s.Unknown), id, StateUnknown)
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
			out(t.desc, float64(t.ts.Unix), id)
		}
	}
	if s.LastCompleted.Valid && !s.LastCompletedSizeUnknown {
		out(lastCompletedSizeDesc, float64(s.LastCompletedSizeBytes), id)
	}
	out(retainedSizeDesc, float64(s.RetainedSizeBytes), id)
	if s.LatestState != "" {
		for _, state := range []string{upstash.StatePending, upstash.StateCompleted, upstash.StateFailed} {
			out(latestStateDesc, boolValue(s.LatestState == state), id, state)
		}
		if s.LatestState == StateUnknown {
			out(latestStateDesc, 1, id, StateUnknown)
		}
	}
	if s.ExpectedInterval > 0 {
		out(expectedIntervalDesc, s.ExpectedInterval.Seconds(), id)
	}
	c := &s.Chain
	if c.RequiredRetention > 0 {
		out(requiredRetentionDesc, c.RequiredRetention.Seconds(), id)
		out(inRetentionDesc, float64(c.InRetention), id)
	}
	if c.LargestGapValid {
		out(largestGapDesc, c.LargestGap.Seconds(), id)
	}
	if c.MedianEarlierSizeValid {
		out(medianSizeDesc, float64(c.MedianEarlierSize), id)
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
