package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// API is the part of the Upstash Developer API the collector reads.
// *upstash.Client satisfies it.
type API interface {
	ListDatabases(ctx context.Context) ([]upstash.Database, error)
	ListBackups(ctx context.Context, databaseID string) (upstash.BackupList, error)
}

// NewAPI makes the API client of one account; main passes a function that
// calls upstash.New with the account's e-mail, key and URL.
type NewAPI func(Account) (API, error)

// Defaults for Options fields left zero.
const (
	DefaultConcurrency    = 8
	DefaultTimeout        = 10 * time.Second
	DefaultRefreshTimeout = 2 * time.Minute
)

// Options tune a Collector. The zero value is usable.
type Options struct {
	// Concurrency is the number of list-backup calls in flight at once,
	// per account (--upstash.concurrency).
	Concurrency int
	// CacheTTL is how long a database's last successful answer is reused
	// before it is fetched again (--upstash.cache-ttl); 0 fetches on every
	// refresh.
	CacheTTL time.Duration
	// Timeout is the collection deadline of Collect, used when the caller
	// gives none (Refresh and CollectContext take the scrape's).
	Timeout time.Duration
	// RefreshTimeout bounds one shared refresh. A refresh outlives the
	// scrape that started it, so that a slow API still completes for the
	// scrapes after it, but never this long.
	RefreshTimeout time.Duration
	// Now is the clock for success timestamps, cache expiry and the
	// collection duration. Defaults to time.Now.
	Now func() time.Time
	// Logger receives failures of API calls and decode problems. Defaults
	// to discarding.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = DefaultRefreshTimeout
	}
	if o.CacheTTL < 0 {
		o.CacheTTL = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Collector is the prometheus.Collector of the metric contract. Each
// collection joins the refresh in flight or starts one, waits for it until
// the collection's deadline, and builds every series anew from the state the
// refreshes left.
type Collector struct {
	opts   Options
	newAPI NewAPI
	log    *slog.Logger

	// ctx is the parent of every refresh; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	runs   sync.WaitGroup

	// testHookJoined, when set, is called by each collection once it has
	// joined a refresh.
	testHookJoined func()

	mu       sync.Mutex
	accounts []*account
	inflight *refresh
	lastRun  uint64
}

// account is one configured account and what refreshes learnt about it.
// Fields below api are guarded by Collector.mu.
type account struct {
	cfg Account
	api API

	// listing is the last successful answer of list-databases, by id, and
	// listed its order.
	listing map[string]upstash.Database
	listed  []string
	// listedAt is when listing was read.
	listedAt time.Time
	// watched are the databases whose series are exported: the configured
	// ones, or the discovered ones that pass include and exclude.
	watched []*database
	byID    map[string]*database

	// Outcome of the account's calls in run curRun so far, and of the last
	// run whose calls all ended (doneRun).
	curRun         uint64
	sawOK, sawAuth bool
	doneRun        uint64
	doneUp         bool
}

// database is a watched database and the state its refreshes left.
type database struct {
	id string
	// name and interval are the configured name and expected_interval.
	name     string
	interval time.Duration

	summary    Summary
	hasSummary bool
	// skipped counts the entries of the last successful answer that the
	// decoder left out.
	skipped int
	// lastSuccess is when list-backup last answered; zero before that.
	lastSuccess time.Time
	// lastOK says whether the last list-backup call succeeded, and
	// answeredRun in which refresh it ended.
	lastOK      bool
	answeredRun uint64
}

// New returns a Collector for cfg; newAPI is called once for each account.
// Call Close when done with it.
func New(cfg *Config, newAPI NewAPI, opts Options) (*Collector, error) {
	c := &Collector{opts: opts.withDefaults(), newAPI: newAPI}
	c.log = c.opts.Logger
	accounts, err := c.accountsFor(cfg, nil)
	if err != nil {
		return nil, err
	}
	c.accounts = accounts
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Reload makes the collector watch what cfg says from the next refresh on.
// What was learnt about an account and database of the same names is kept,
// so series do not lose their last values. On error nothing changes.
func (c *Collector) Reload(cfg *Config) error {
	c.mu.Lock()
	old := c.accounts
	c.mu.Unlock()
	accounts, err := c.accountsFor(cfg, old)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accounts = accounts
	// A refresh in flight works for the old accounts; the next collection
	// starts one for the new ones.
	c.inflight = nil
	return nil
}

// accountsFor builds the accounts of cfg, carrying over the state of the
// same-named accounts in old.
func (c *Collector) accountsFor(cfg *Config, old []*account) ([]*account, error) {
	if cfg == nil || len(cfg.Accounts) == 0 {
		return nil, errors.New("collector: no accounts configured")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := make(map[string]*account, len(old))
	for _, a := range old {
		prev[a.cfg.Name] = a
	}
	accounts := make([]*account, 0, len(cfg.Accounts))
	for _, ac := range cfg.Accounts {
		api, err := c.newAPI(ac)
		if err != nil {
			return nil, fmt.Errorf("account %q: %w", ac.Name, err)
		}
		a := &account{cfg: ac, api: api, byID: map[string]*database{}}
		if p := prev[ac.Name]; p != nil {
			a.listing, a.listed, a.listedAt = p.listing, p.listed, p.listedAt
			a.curRun, a.sawOK, a.sawAuth = p.curRun, p.sawOK, p.sawAuth
			a.doneRun, a.doneUp = p.doneRun, p.doneUp
			for id, d := range p.byID {
				cp := *d
				a.byID[id] = &cp
			}
		}
		a.retarget()
		accounts = append(accounts, a)
	}
	return accounts, nil
}

// retarget recomputes the watched databases from the configuration and the
// last listing, keeping the state of databases that stay. Caller holds mu
// (or owns a).
func (a *account) retarget() {
	byID := make(map[string]*database, len(a.byID))
	watched := make([]*database, 0, len(a.watched))
	keep := func(id string) *database {
		d := a.byID[id]
		if d == nil {
			d = &database{id: id}
		}
		byID[id] = d
		watched = append(watched, d)
		return d
	}
	if a.cfg.Discovers() {
		for _, id := range a.listed {
			if _, dup := byID[id]; !dup && a.cfg.watches(a.listing[id].Name) {
				keep(id)
			}
		}
	} else {
		for _, dc := range a.cfg.Databases {
			d := keep(dc.ID)
			d.name, d.interval = dc.Name, dc.ExpectedInterval
		}
	}
	a.byID, a.watched = byID, watched
}

// Close stops any refresh in flight and waits for it to end.
func (c *Collector) Close() {
	// Under mu, so that join either sees the cancellation or has added its
	// refresh to runs before Wait.
	c.mu.Lock()
	c.cancel()
	c.mu.Unlock()
	c.runs.Wait()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector with Options.Timeout as the
// deadline. A handler that knows the scrape's deadline uses Refresh instead.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	c.CollectContext(ctx, ch)
}

// CollectContext collects with ctx's deadline: it waits for the shared
// refresh until ctx ends, then reports what is known. Databases the refresh
// has not answered yet report collect_success 0 and keep their last values.
func (c *Collector) CollectContext(ctx context.Context, ch chan<- prometheus.Metric) {
	c.Refresh(ctx).Collect(ch)
}

// Refresh joins the refresh in flight, or starts one, and waits for it until
// ctx ends. It returns a prometheus.Collector that reports what that refresh
// found without starting another, so a caller can wait for its turn to
// render after Refresh and its scrape still shares the one refresh.
func (c *Collector) Refresh(ctx context.Context) prometheus.Collector {
	start := c.opts.Now()
	r := c.join()
	if c.testHookJoined != nil {
		c.testHookJoined()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	return refreshed{c: c, run: r.id, duration: c.opts.Now().Sub(start)}
}

// refreshed reports the state as refresh run left it.
type refreshed struct {
	c        *Collector
	run      uint64
	duration time.Duration
}

func (r refreshed) Describe(ch chan<- *prometheus.Desc) { r.c.Describe(ch) }

func (r refreshed) Collect(ch chan<- prometheus.Metric) {
	for _, a := range r.c.snapshot(r.run) {
		a.emit(ch)
	}
	ch <- prometheus.MustNewConstMetric(collectDurationDesc, prometheus.GaugeValue, r.duration.Seconds())
}

// accountView and databaseView are a collection's copy of the state, taken
// under the lock and turned into metrics outside it.
type accountView struct {
	name      string
	up        bool
	databases []databaseView
}

type databaseView struct {
	id          string
	info        upstash.Database
	listed      bool
	name        string
	success     bool
	lastSuccess time.Time
	summary     Summary
	hasSummary  bool
	skipped     int
}

// snapshot copies what a collection waiting on refresh run reports. A
// database listed by an earlier account is left out of later ones: series
// carry database_id only and would collide.
func (c *Collector) snapshot(run uint64) []accountView {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	views := make([]accountView, 0, len(c.accounts))
	for _, a := range c.accounts {
		v := accountView{name: a.cfg.Name, databases: make([]databaseView, 0, len(a.watched))}
		if a.doneRun >= run {
			v.up = a.doneUp
		} else {
			v.up = a.sawOK && !a.sawAuth
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
				success:     d.lastOK && d.answeredRun >= run,
				lastSuccess: d.lastSuccess,
				summary:     d.summary,
				hasSummary:  d.hasSummary,
				skipped:     d.skipped,
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
}

func (d *databaseView) emit(ch chan<- prometheus.Metric, account string) {
	id := d.id
	if d.listed {
		ch <- gauge(databaseInfoDesc, 1, id, d.name, account, d.info.Plan, d.info.Region, d.info.PrimaryRegion, d.info.State)
		ch <- gauge(dailyBackupEnabledDesc, boolValue(d.info.DailyBackupEnabled), id)
	}
	ch <- gauge(collectSuccessDesc, boolValue(d.success), id)
	if !d.lastSuccess.IsZero() {
		ch <- gauge(lastCollectSuccessDesc, unixSeconds(d.lastSuccess), id)
	}
	if !d.hasSummary {
		return
	}
	s := &d.summary
	ch <- gauge(backupsDesc, float64(s.Backups), id)
	ch <- gauge(backupsSkippedDesc, float64(d.skipped), id)
	ch <- gauge(backupsByStateDesc, float64(s.Pending), id, upstash.StatePending)
	ch <- gauge(backupsByStateDesc, float64(s.Completed), id, upstash.StateCompleted)
	ch <- gauge(backupsByStateDesc, float64(s.Failed), id, upstash.StateFailed)
	if s.Unknown > 0 {
		ch <- gauge(backupsByStateDesc, float64(s.Unknown), id, StateUnknown)
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
	if s.LastCompleted.Valid {
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
