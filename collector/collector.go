package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
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
type NewAPI func(config.Account) (API, error)

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
	// gives none (Refresh takes the scrape's). It bounds
	// how long a collection waits for the shared refresh, never the refresh
	// itself or its API calls.
	Timeout time.Duration
	// RefreshTimeout is the refresh's own deadline, the only one its API
	// calls and their retries see. A refresh is detached from the scrape
	// that started it and outlives that scrape's deadline, so that a slow
	// API still completes for the scrapes after it, but never this long:
	// the databases not read by then count as failed reads.
	RefreshTimeout time.Duration
	// Now is the clock for success timestamps, cache expiry and the
	// collection duration. Defaults to time.Now.
	Now func() time.Time
	// Logger receives failures of API calls and decode problems. Defaults
	// to discarding.
	Logger *slog.Logger
	// Shard selects the databases this replica reads (--shard.index and
	// --shard.count); the zero value reads every database. Every replica
	// lists the databases and exports the account's series.
	Shard Shard
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

	mu       sync.Mutex
	accounts []*accountState
	inflight chan struct{}
	// overlaps are the databases watched through two accounts that the
	// log has been told of.
	overlaps map[overlap]bool
}

// New returns a Collector of accounts; newAPI is called once for each.
// Call Close when done with it.
func New(accounts []config.Account, newAPI NewAPI, opts Options) (*Collector, error) {
	c := &Collector{opts: opts.withDefaults(), newAPI: newAPI}
	c.log = c.opts.Logger
	states, err := c.statesFor(accounts, nil)
	if err != nil {
		return nil, err
	}
	c.accounts = states
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Reload makes the collector watch accounts from the next refresh on. What
// was learnt about an account and database of the same names is kept, so
// series do not lose their last values. On error nothing changes.
func (c *Collector) Reload(accounts []config.Account) error {
	c.mu.Lock()
	old := c.accounts
	c.mu.Unlock()
	states, err := c.statesFor(accounts, old)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accounts = states
	// A refresh in flight works for the old accounts; the next collection
	// starts one for the new ones.
	c.inflight = nil
	return nil
}

// statesFor builds the state of accounts, carrying over what old, the
// states in force, learnt about the same-named accounts.
func (c *Collector) statesFor(accounts []config.Account, old []*accountState) ([]*accountState, error) {
	if len(accounts) == 0 {
		return nil, errors.New("collector: no accounts configured")
	}
	apis := make([]API, len(accounts))
	for i, ac := range accounts {
		api, err := c.newAPI(ac)
		if err != nil {
			return nil, fmt.Errorf("account %q: %w", ac.Name, err)
		}
		apis[i] = api
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := make(map[string]*accountState, len(old))
	for _, a := range old {
		prev[a.cfg.Name] = a
	}
	states := make([]*accountState, 0, len(accounts))
	for i, ac := range accounts {
		a := &accountState{cfg: ac, api: apis[i], shard: c.opts.Shard, byID: map[string]*databaseState{}}
		if p := prev[ac.Name]; p != nil {
			a.listing, a.listed, a.listedAt = p.listing, p.listed, p.listedAt
			a.listedCount, a.hasListing, a.unsafeIDs = p.listedCount, p.hasListing, p.unsafeIDs
			a.up = p.up
			for id, d := range p.byID {
				cp := *d
				a.byID[id] = &cp
			}
		}
		a.retarget()
		states = append(states, a)
	}
	return states, nil
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
	c.Refresh(ctx).Collect(ch)
}

// Refresh is the collector's entry point, for the /metrics handler and the
// tests alike. It joins the refresh in flight, or starts one, and waits for
// it until ctx ends. It returns a prometheus.Collector that reports what is
// known then, without starting another refresh: a database the refresh has
// not read yet reports the outcome of its latest finished read and keeps
// its last values, and its read goes on, up to Options.RefreshTimeout. A
// caller can so wait for its turn to render after Refresh and its scrape
// still shares the one refresh.
func (c *Collector) Refresh(ctx context.Context) prometheus.Collector {
	start := c.opts.Now()
	done := c.join()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return refreshed{c: c, duration: c.opts.Now().Sub(start)}
}
