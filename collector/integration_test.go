package collector

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// TestCollectFromFakeAPI drives the real client against the fake API over
// loopback: a healthy database, one that hangs until the client's own
// timeout gives up on it, and an account with a wrong key. The collection
// has no deadline of its own, so it sees the whole refresh.
func TestCollectFromFakeAPI(t *testing.T) {
	t.Parallel()
	srv := upstashtest.NewServer(upstashtest.WithClock(func() time.Time { return t0 }))
	t.Cleanup(srv.Close)
	srv.AddDatabase(upstashtest.Database{ID: "healthy", Name: "orders", Plan: "pro", Region: "eu-west-1", PrimaryRegion: "eu-west-1", DailyBackupEnabled: true})
	srv.SetBackups("healthy", upstashtest.GenerateBackups("healthy", 3, t0.Add(-time.Hour), 24*time.Hour))
	srv.AddDatabase(upstashtest.Database{ID: "hung", Name: "sessions", DailyBackupEnabled: true})
	srv.SetFault("hung", upstashtest.Fault{Hang: true})

	cfg := []config.Account{
		{Name: "good", Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey, APIURL: srv.URL},
		{Name: "wrong-key", Email: upstashtest.DefaultEmail, APIKey: "not-the-key", APIURL: srv.URL},
	}
	metrics := NewAPIMetrics()
	newAPI := func(a config.Account) (API, error) {
		return upstash.New(upstash.Config{
			BaseURL:   a.APIURL,
			Email:     a.Email,
			APIKey:    string(a.APIKey),
			Timeout:   time.Second,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Observe:   metrics.Observer(a.Name),
		})
	}
	c, err := New(cfg, newAPI, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // runs before srv.Close: the hung call is cancelled first

	got := collectText(t, t.Context(), c)
	for _, line := range []string{
		`upstash_up{account="good"} 1`,
		`upstash_up{account="wrong-key"} 0`,
		`upstash_backup_exporter_collect_success{database_id="healthy"} 1`,
		`upstash_backup_exporter_collect_success{database_id="hung"} 0`,
		`upstash_redis_backups{database_id="healthy",state="completed"} 3`,
		`upstash_redis_backups{database_id="healthy",state="failed"} 0`,
		`upstash_redis_backups{database_id="healthy",state="pending"} 0`,
		`upstash_redis_backup_last_completed_timestamp_seconds{database_id="healthy"} 1.7680428e+09`,
		`upstash_redis_backup_expected_interval_seconds{database_id="healthy"} 86400`,
		`upstash_redis_database_info{account="good",database_id="healthy",database_name="orders",plan="pro",primary_region="eu-west-1",region="eu-west-1",state="active"} 1`,
	} {
		if !hasLine(got, line) {
			t.Errorf("lacks %s:\n%s", line, got)
		}
	}
	for _, labels := range [][3]string{
		{"good", upstash.EndpointListDatabases, "200"},
		{"good", upstash.EndpointListBackup, "200"},
		{"good", upstash.EndpointListBackup, upstash.CodeTimeout},
		{"wrong-key", upstash.EndpointListDatabases, "401"},
	} {
		if n := testutil.ToFloat64(metrics.requests.WithLabelValues(labels[:]...)); n != 1 {
			t.Errorf("requests %v: %v, want 1", labels, n)
		}
	}
	// Nothing else: in particular no list-backup call with the rejected key.
	if n := testutil.CollectAndCount(metrics.requests); n != 4 {
		t.Errorf("%d request series, want 4", n)
	}
}

// TestSlowRefreshKeepsHealthyDatabasesSucceeding scrapes, with a deadline
// shorter than one refresh, an API where every read succeeds but is slow:
// no database ever shows collect_success 0, and each shows 1 from the
// scrape after its first read ended. A read still in flight when a scrape
// gives up is not a failure.
func TestSlowRefreshKeepsHealthyDatabasesSucceeding(t *testing.T) {
	t.Parallel()
	srv := upstashtest.NewServer(upstashtest.WithClock(func() time.Time { return t0 }))
	t.Cleanup(srv.Close)
	ids := srv.AddGeneratedDatabases(6, 2)
	// One refresh: list-databases and six list-backup calls one at a time,
	// 7 x 40ms, well past the 60ms scrape deadline.
	srv.SetLatency(40 * time.Millisecond)
	newAPI := func(a config.Account) (API, error) {
		return upstash.New(upstash.Config{BaseURL: a.APIURL, Email: a.Email, APIKey: string(a.APIKey), Timeout: 5 * time.Second})
	}
	cfg := []config.Account{
		{Name: "a", Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey, APIURL: srv.URL},
	}
	c, err := New(cfg, newAPI, Options{Concurrency: 1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	seen := map[string]bool{}
	cut := 0
	for scrape := 0; scrape < 20; scrape++ {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
		start := time.Now()
		got := collectText(t, ctx, c)
		if time.Since(start) >= 60*time.Millisecond {
			cut++
		}
		cancel()
		for _, id := range ids {
			prefix := `upstash_backup_exporter_collect_success{database_id="` + id + `"} `
			switch {
			case hasLine(got, prefix+"0"):
				t.Errorf("scrape %d: %s reported failed though every read succeeds:\n%s", scrape, id, got)
			case hasLine(got, prefix+"1"):
				seen[id] = true
			case seen[id]:
				t.Errorf("scrape %d: %s lost collect_success after a finished read:\n%s", scrape, id, got)
			}
		}
	}
	if cut == 0 {
		t.Fatal("no scrape reached its deadline before the refresh ended; the test shows nothing")
	}
	// A scrape without a deadline waits for the refresh in flight: every
	// database has then finished a read.
	got := collectText(t, context.Background(), c)
	for _, id := range ids {
		if !hasLine(got, `upstash_backup_exporter_collect_success{database_id="`+id+`"} 1`) {
			t.Errorf("%s not reported read after a whole refresh:\n%s", id, got)
		}
	}
	if !hasLine(got, `upstash_up{account="a"} 1`) {
		t.Errorf("account not up:\n%s", got)
	}
}
