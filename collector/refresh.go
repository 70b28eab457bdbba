package collector

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// join returns the refresh in flight, or starts one: a refresh is one pass
// over every account, shared by the collections that arrive while it runs,
// and the channel returned closes when all its API calls have ended. The refresh runs on a
// context of its own, detached from any scrape and bounded by
// Options.RefreshTimeout, so that a scrape giving up does not waste the calls
// made for it, and the goroutine still ends by a deadline.
func (c *Collector) join() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	done := make(chan struct{})
	if c.ctx.Err() != nil {
		// Closed: report the state as it is.
		close(done)
		return done
	}
	c.inflight = done
	accounts := slices.Clone(c.accounts)
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RefreshTimeout)
	c.runs.Go(func() {
		defer close(done)
		defer cancel()
		c.run(ctx, accounts)
		c.mu.Lock()
		if c.inflight == done {
			c.inflight = nil
		}
		c.mu.Unlock()
	})
	return done
}

// run refreshes the accounts in parallel.
func (c *Collector) run(ctx context.Context, accounts []*accountState) {
	var wg sync.WaitGroup
	for _, a := range accounts {
		wg.Go(func() { c.refreshAccount(ctx, a) })
	}
	wg.Wait()
	c.warnSharedDatabases(accounts)
}

// fetch is a list-backup call to make, with the settings its stats need.
type fetch struct {
	db       *databaseState
	settings Settings
}

// refreshAccount lists the account's databases, then reads the backups of
// every watched database whose cached answer is not fresh, at most
// Options.Concurrency at a time. The listing is cached like a database's
// answer: with a cache TTL, list-databases too is called at most once per
// TTL, so the API load does not grow with the number of scrapers.
//
// The account's up is recorded once, when its refresh ends, from the
// outcomes of this refresh's calls.
func (c *Collector) refreshAccount(ctx context.Context, a *accountState) {
	log := c.log.With("account", a.cfg.Name)
	var sawOK, sawAuth atomic.Bool
	observe := func(err error) {
		switch {
		case err == nil:
			sawOK.Store(true)
		case upstash.IsAuth(err):
			sawAuth.Store(true)
		}
	}
	c.mu.Lock()
	cached := a.listingFresh(c.opts.Now(), c.opts.CacheTTL)
	c.mu.Unlock()
	var databases []upstash.Database
	var listErr error
	if !cached {
		databases, listErr = a.api.ListDatabases(ctx)
		listErr = c.deadlineError(ctx, listErr)
		observe(listErr)
	}

	var news listingNews
	c.mu.Lock()
	if !cached && listErr == nil {
		news = a.setListing(databases, c.opts.Now())
	}
	a.retarget()
	fetches := a.plan(c.opts.Now(), c.opts.CacheTTL)
	retriesOnly := cached && allFailedBefore(fetches)
	c.mu.Unlock()
	// upstash_up changes only on news about the account. Served wholly
	// from the cache, the refresh makes no call. With a cache TTL, a
	// refresh between two listings reads again only the databases whose
	// last read failed: when they fail again, short of a refusal, that is
	// about those databases, not the account, so up stays what the last
	// refresh found. A success or a refusal is always news.
	if !cached || len(fetches) > 0 {
		defer func() {
			ok, refused := sawOK.Load(), sawAuth.Load()
			if retriesOnly && !ok && !refused {
				return
			}
			c.mu.Lock()
			a.up = ok && !refused
			c.mu.Unlock()
		}()
	}

	news.log(log)
	if listErr != nil {
		log.Log(ctx, levelFor(listErr), "Listing databases failed", errorArgs(listErr)...)
		if upstash.IsAuth(listErr) {
			// Every list-backup call would be refused the same way; the
			// failure is logged once above, not once per database.
			c.fail(fetches)
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
			observe(c.refreshDatabase(ctx, a, f, log))
			return nil
		})
	}
	_ = g.Wait() // the calls report through the state, never as an error
}

// plan returns the list-backup calls a refresh must make. A database whose last
// call succeeded less than ttl ago counts as answered by its cached stats.
// Caller holds mu.
func (a *accountState) plan(now time.Time, ttl time.Duration) []fetch {
	fetches := make([]fetch, 0, len(a.watched))
	for _, d := range a.watched {
		if ttl > 0 && d.lastRead.ok && d.hasStats && now.Sub(d.lastSuccess) < ttl {
			continue
		}
		fetches = append(fetches, fetch{db: d, settings: Settings{
			ExpectedInterval:   d.interval,
			DailyBackupEnabled: a.listing[d.id].DailyBackupEnabled,
			RequiredRetention:  d.retention,
		}})
	}
	return fetches
}

// allFailedBefore says whether every database of fetches has finished a
// read and its latest one failed. Caller holds mu.
func allFailedBefore(fetches []fetch) bool {
	for _, f := range fetches {
		if !f.db.lastRead.finished || f.db.lastRead.ok {
			return false
		}
	}
	return true
}

// overlap is a database that two accounts watch.
type overlap struct{ id, first, also string }

// warnSharedDatabases logs databases that several accounts list: only the
// first account's series are exported for them. Each overlap is logged when
// it appears, not on every refresh.
func (c *Collector) warnSharedDatabases(accounts []*accountState) {
	var news []overlap
	c.mu.Lock()
	owner := map[string]string{}
	now := map[overlap]bool{}
	for _, a := range accounts {
		for _, d := range a.watched {
			first, ok := owner[d.id]
			if !ok {
				owner[d.id] = a.cfg.Name
				continue
			}
			o := overlap{d.id, first, a.cfg.Name}
			now[o] = true
			if !c.overlaps[o] {
				news = append(news, o)
			}
		}
	}
	c.overlaps = now
	c.mu.Unlock()
	for _, o := range news {
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
