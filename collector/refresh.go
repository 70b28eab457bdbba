package collector

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// refresh is one pass over every account. Collections that arrive while it
// runs share it; done closes when all its API calls have ended.
type refresh struct {
	id   uint64
	done chan struct{}
}

// join returns the refresh in flight, or starts one. The refresh runs on a
// context of its own, detached from any scrape and bounded by
// Options.RefreshTimeout, so that a scrape giving up does not waste the calls
// made for it, and the goroutine still ends by a deadline.
func (c *Collector) join() *refresh {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	r := &refresh{done: make(chan struct{})}
	if c.ctx.Err() != nil {
		// Closed: report the state as it is.
		r.id = c.lastRun
		close(r.done)
		return r
	}
	c.lastRun++
	r.id = c.lastRun
	c.inflight = r
	accounts := slices.Clone(c.accounts)
	for _, a := range accounts {
		a.curRun, a.sawOK, a.sawAuth = r.id, false, false
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RefreshTimeout)
	c.runs.Go(func() {
		defer close(r.done)
		defer cancel()
		c.run(ctx, r.id, accounts)
		c.mu.Lock()
		if c.inflight == r {
			c.inflight = nil
		}
		c.mu.Unlock()
	})
	return r
}

// run refreshes the accounts in parallel.
func (c *Collector) run(ctx context.Context, run uint64, accounts []*account) {
	var wg sync.WaitGroup
	for _, a := range accounts {
		wg.Go(func() { c.refreshAccount(ctx, run, a) })
	}
	wg.Wait()
	c.warnSharedDatabases(accounts)
}

// fetch is a list-backup call to make, with the settings its summary needs.
type fetch struct {
	db       *database
	settings Settings
}

// refreshAccount lists the account's databases, then reads the backups of
// every watched database whose cached answer is not fresh, at most
// Options.Concurrency at a time. The listing is cached like a database's
// answer: with a cache TTL, list-databases too is called at most once per
// TTL, so the API load does not grow with the number of scrapers.
func (c *Collector) refreshAccount(ctx context.Context, run uint64, a *account) {
	log := c.log.With("account", a.cfg.Name)
	c.mu.Lock()
	cached := a.listingFresh(c.opts.Now(), c.opts.CacheTTL)
	c.mu.Unlock()
	var databases []upstash.Database
	var listErr error
	if !cached {
		databases, listErr = a.api.ListDatabases(ctx)
		listErr = c.deadlineError(ctx, listErr)
	}

	var news listingNews
	c.mu.Lock()
	if !cached {
		a.observe(listErr)
		if listErr == nil {
			news = a.setListing(databases, c.opts.Now())
		}
	}
	a.retarget()
	fetches := a.plan(run, c.opts.Now(), c.opts.CacheTTL)
	if cached && len(fetches) == 0 {
		// Served wholly from the cache: no call tells anything new about
		// the credentials, so upstash_up stays what the last call found.
		a.sawOK, a.sawAuth = a.doneUp, false
	}
	c.mu.Unlock()

	news.log(log)
	if listErr != nil {
		log.Log(ctx, levelFor(listErr), "Listing databases failed", errorArgs(listErr)...)
		if upstash.IsAuth(listErr) {
			// Every list-backup call would be refused the same way; the
			// failure is logged once above, not once per database.
			c.fail(fetches)
			c.finish(run, a)
			return
		}
	}

	var g errgroup.Group
	g.SetLimit(c.opts.Concurrency)
	for i, f := range fetches {
		if ctx.Err() != nil {
			rest := fetches[i:]
			c.fail(rest)
			// ctx is the refresh's own context: it ended by the refresh
			// deadline (Options.RefreshTimeout) or by Close, never by a
			// scrape's deadline.
			log.Log(ctx, levelFor(ctx.Err()), "Refresh deadline reached before every database was read; the unread ones count as failed",
				"unread", len(rest), "refresh_timeout", c.opts.RefreshTimeout, "err", context.Cause(ctx))
			break
		}
		g.Go(func() error {
			c.refreshDatabase(ctx, run, a, f, log)
			return nil
		})
	}
	_ = g.Wait() // the calls report through the state, never as an error
	c.finish(run, a)
}

// finish records the account's outcome once all its calls of run ended.
func (c *Collector) finish(run uint64, a *account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.doneRun, a.doneUp = run, a.sawOK && !a.sawAuth
}

// observe notes the outcome of one call for upstash_up. Caller holds mu.
func (a *account) observe(err error) {
	switch {
	case err == nil:
		a.sawOK = true
	case upstash.IsAuth(err):
		a.sawAuth = true
	}
}

// plan returns the list-backup calls run must make. A database whose last
// call succeeded less than ttl ago counts as answered by its cached summary.
// Caller holds mu.
func (a *account) plan(run uint64, now time.Time, ttl time.Duration) []fetch {
	fetches := make([]fetch, 0, len(a.watched))
	for _, d := range a.watched {
		if ttl > 0 && d.lastRead.ok && d.hasSummary && now.Sub(d.lastSuccess) < ttl {
			continue
		}
		fetches = append(fetches, fetch{db: d, settings: Settings{
			ExpectedInterval:   d.interval,
			DailyBackupEnabled: a.listing[d.id].DailyBackupEnabled,
		}})
	}
	return fetches
}

// warnSharedDatabases logs databases that several accounts list: only the
// first account's series are exported for them.
func (c *Collector) warnSharedDatabases(accounts []*account) {
	type overlap struct{ id, first, also string }
	var overlaps []overlap
	c.mu.Lock()
	owner := map[string]string{}
	for _, a := range accounts {
		for _, d := range a.watched {
			if first, ok := owner[d.id]; ok {
				overlaps = append(overlaps, overlap{d.id, first, a.cfg.Name})
				continue
			}
			owner[d.id] = a.cfg.Name
		}
	}
	c.mu.Unlock()
	for _, o := range overlaps {
		c.log.Warn("Database is watched through more than one account; only the first account's series are exported",
			"database_id", o.id, "account", o.first, "also_account", o.also)
	}
}

// errorArgs are the log arguments of a failed call: its class and the error,
// which never holds a key.
func errorArgs(err error) []any {
	return []any{"class", errorClass(err), "err", err}
}

// levelFor is the level a failure is logged at: calls cut short by Close are
// routine.
func levelFor(err error) slog.Level {
	if errors.Is(err, context.Canceled) {
		return slog.LevelDebug
	}
	return slog.LevelError
}

// errorClass is the APIError class, or what a context error means.
func errorClass(err error) string {
	var ae *upstash.APIError
	switch {
	case errors.As(err, &ae):
		return ae.Class
	case errors.Is(err, context.DeadlineExceeded):
		return upstash.ClassTimeout
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "error"
	}
}
