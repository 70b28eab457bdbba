package collector

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// sleepLog is an upstash.Config.Sleep that records the waits asked for and
// returns at once, so the retry policy is observed without waiting.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// throttledCollector watches ids on a fake through the real client, whose
// retries are bounded by the refresh deadline refreshTimeout.
func throttledCollector(t *testing.T, srv *upstashtest.Server, refreshTimeout time.Duration, ids ...string) (*Collector, *sleepLog) {
	t.Helper()
	sleeps := &sleepLog{}
	var dbs []config.Database
	for _, id := range ids {
		dbs = append(dbs, config.Database{ID: id})
	}
	cfg := []config.Account{{
		Name: "a", Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey, APIURL: srv.URL, Databases: dbs,
	}}
	newAPI := func(a config.Account) (API, error) {
		return upstash.New(upstash.Config{
			BaseURL: a.APIURL, Email: a.Email, APIKey: string(a.APIKey),
			Timeout: 5 * time.Second, Sleep: sleeps.sleep,
		})
	}
	c, err := New(cfg, newAPI, Options{RefreshTimeout: refreshTimeout, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, sleeps
}

// A 429 whose Retry-After ends past the refresh deadline is not retried,
// and holds back the account's other calls instead of letting them meet
// the same limit: the refresh ends at once with every database failed and
// no call retried.
func TestRetryAfterPastTheDeadlineIsNotWaited(t *testing.T) {
	t.Parallel()
	srv := upstashtest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.AddGeneratedDatabases(6, 3)
	srv.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 429, RetryAfter: "120"})
	c, sleeps := throttledCollector(t, srv, 30*time.Second, ids...)

	// No deadline on the collection: it returns when the refresh ends,
	// which it does without waiting the two minutes.
	got := collectText(t, context.Background(), c)
	for _, id := range ids {
		if !hasLine(got, `upstash_backup_exporter_collect_success{database_id="`+id+`"} 0`) {
			t.Errorf("%s not reported failed:\n%s", id, got)
		}
	}
	if w := sleeps.all(); len(w) != 0 {
		t.Errorf("waited %v; a Retry-After past the deadline must not be waited", w)
	}
	calls := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Endpoint == upstash.EndpointListBackup {
			calls[r.DatabaseID]++
		}
	}
	for id, n := range calls {
		if n != 1 {
			t.Errorf("%s: %d list-backup calls, want 1 (no retry)", id, n)
		}
	}
	// Concurrency 2: only the calls in flight when the first 429 came back
	// reach the server; the rest are held back without being sent.
	if len(calls) == 0 || len(calls) > 2 {
		t.Errorf("%d databases called, want 1 or 2 (the calls in flight when the API asked to wait)", len(calls))
	}
}

// A 429 whose Retry-After ends inside the refresh deadline is waited for
// and tried once more, successfully.
func TestRetryAfterInsideTheDeadlineIsWaited(t *testing.T) {
	t.Parallel()
	srv := upstashtest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.AddGeneratedDatabases(1, 3)
	srv.SetFault(ids[0], upstashtest.Fault{Status: 429, RetryAfter: "2", Times: 1})
	c, sleeps := throttledCollector(t, srv, time.Minute, ids...)

	got := collectText(t, context.Background(), c)
	if !hasLine(got, `upstash_backup_exporter_collect_success{database_id="`+ids[0]+`"} 1`) {
		t.Errorf("not read after the wait:\n%s", got)
	}
	if n := srv.RequestCount(upstash.EndpointListBackup); n != 2 {
		t.Errorf("%d list-backup calls, want 2 (one 429, one retry)", n)
	}
	waits := sleeps.all()
	if len(waits) == 0 || waits[0] != 2*time.Second {
		t.Errorf("waits %v, want the 2s of Retry-After first", waits)
	}
	for _, w := range waits {
		if w > 2*time.Second {
			t.Errorf("waited %v, more than Retry-After", w)
		}
	}
}
