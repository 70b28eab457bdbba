package collector

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

var update = flag.Bool("update", false, "rewrite the golden .prom files from the current output")

// t0 is the time of the first collection in the golden tests.
var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func at(d time.Duration, state string, size int64) upstash.Backup {
	return upstash.Backup{CreationTime: t0.Add(-d).Unix(), State: state, SizeBytes: size}
}

const (
	completed = upstash.StateCompleted
	failed    = upstash.StateFailed
	pending   = upstash.StatePending
)

func db(id, name, plan string, daily bool) upstash.Database {
	return upstash.Database{
		ID: id, Name: name, Plan: plan, Region: "us-east-1", PrimaryRegion: "us-east-1",
		State: "active", DailyBackupEnabled: daily,
	}
}

// cast is the golden tests' set of accounts: every series of the contract
// appears in it.
func cast() ([]config.Account, map[string]*stubAPI) {
	prod := newStub()
	prod.databases = []upstash.Database{
		db("healthy-1", "orders", "pro", true),
		db("failing-2", "sessions", "pro", true),
		db("pending-3", "queue", "payg", true),
		db("never-4", "cache", "free", true),
		db("hourly-5", "events", "pro", false),
		db("odd-6", "legacy", "paid", false),
		db("flaky-7", "flaky", "payg", true),
		db("leaving-8", "temp", "free", false),
		db("shrunk-13", "events-archive", "pro", true),
	}
	prod.backups = map[string]upstash.BackupList{
		"healthy-1": {Backups: []upstash.Backup{daily(at(2*time.Hour, completed, 1200)), daily(at(26*time.Hour, completed, 1000))}},
		"failing-2": {Backups: []upstash.Backup{daily(at(2*time.Hour, failed, 0)), daily(at(50*time.Hour, completed, 500))}},
		"pending-3": {Backups: []upstash.Backup{at(3*time.Hour, pending, 0), at(30*time.Hour, completed, 200), at(5*time.Hour, pending, 0)}},
		"never-4":   {},
		"hourly-5":  {Backups: []upstash.Backup{hourly(at(time.Hour, completed, 70)), hourly(at(2*time.Hour, completed, 60))}},
		// odd-6: an undocumented state, an entry left out, and a newest
		// completed backup whose size could not be read.
		"odd-6": {
			Backups: []upstash.Backup{at(time.Hour, "archived", 0), at(48*time.Hour, completed, 10), sizeUnknown(at(40*time.Hour, completed, 0))},
			Problems: []upstash.DecodeProblem{
				{Index: 2, Skipped: true, Kind: upstash.ProblemCreationTime, Reason: "creation_time is not a number"},
				{Index: 3, Kind: upstash.ProblemBackupSize, Reason: "backup_size -1 is negative"},
			},
		},
		"flaky-7":   {Backups: []upstash.Backup{daily(at(4*time.Hour, completed, 300))}},
		"leaving-8": {Backups: []upstash.Backup{at(20*time.Hour, completed, 5)}},
		// shrunk-13: the newest completed backup is a tenth of the ones
		// before it, and a day is missing before it.
		"shrunk-13": {Backups: []upstash.Backup{
			daily(at(2*time.Hour, completed, 100)), daily(at(50*time.Hour, completed, 1000)),
			daily(at(74*time.Hour, completed, 1000)), daily(at(98*time.Hour, completed, 1000)),
		}},
	}

	staging := newStub()
	staging.databases = []upstash.Database{
		db("cfg-9", "stg-orders", "free", false),
		db("ignored-11", "not-configured", "free", false),
	}
	staging.backups = map[string]upstash.BackupList{
		"cfg-9":       {Backups: []upstash.Backup{at(7*time.Hour, completed, 40)}},
		"unlisted-10": {Backups: []upstash.Backup{at(10*time.Hour, completed, 50)}},
		"ignored-11":  {Backups: []upstash.Backup{at(10*time.Hour, completed, 50)}},
	}

	revoked := newStub()
	revoked.listErr = authError(upstash.EndpointListDatabases)
	revoked.errs = map[string]error{"revoked-12": authError(upstash.EndpointListBackup)}

	cfg := []config.Account{
		{Name: "production", Email: "ops@example.com", APIKey: "k1", RequiredRetention: 72 * time.Hour},
		{Name: "staging", Email: "ops@example.com", APIKey: "k2", Databases: []config.Database{
			{ID: "cfg-9", Name: "renamed", ExpectedInterval: 6 * time.Hour},
			{ID: "unlisted-10"},
		}},
		{Name: "revoked", Email: "ops@example.com", APIKey: "k3", Databases: []config.Database{{ID: "revoked-12"}}},
	}
	return cfg, map[string]*stubAPI{"production": prod, "staging": staging, "revoked": revoked}
}

// compareGolden compares one collection with testdata/name, or rewrites it
// with -update.
func compareGolden(t *testing.T, c prometheus.Collector, name string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(exposition(t, c)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f); err != nil {
		t.Error(err)
	}
}

func TestCollectGolden(t *testing.T) {
	t.Parallel()
	cfg, apis := cast()
	clk := newClock(t0)
	var logs syncBuffer
	c := newTestCollector(t, cfg, apis, Options{Now: clk.now, Logger: newLogger(&logs)})

	compareGolden(t, c, "first.prom")

	// Second collection a minute later: flaky-7 fails and keeps its values,
	// leaving-8 has left the account.
	clk.add(time.Minute)
	apis["production"].set(func(s *stubAPI) {
		s.errs["flaky-7"] = serverError(upstash.EndpointListBackup, "flaky-7")
		s.databases = s.databases[:len(s.databases)-1]
	})
	compareGolden(t, c, "second.prom")

	if n := apis["revoked"].calls("revoked-12"); n != 0 {
		t.Errorf("list-backup called %d times after list-databases answered 401", n)
	}
	if n := apis["staging"].calls("ignored-11"); n != 0 {
		t.Errorf("list-backup called %d times for a database the configuration does not list", n)
	}

	out := logs.String()
	for _, want := range []string{
		`level=ERROR msg="Listing backups failed" account=production database_id=flaky-7 class=http_status err="upstash list_backup \"flaky-7\": HTTP 500: server problem"`,
		`level=ERROR msg="Listing databases failed" account=revoked class=http_status err="upstash list_databases: HTTP 401: Unauthorized"`,
		`level=WARN msg="Backup list had entries that could not be read as given" account=production database_id=odd-6 skipped=1 altered=1 reasons="backup_size=1,creation_time=1" first_detail="creation_time is not a number"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks\n%s\nlog:\n%s", want, out)
		}
	}
	// Once per refresh: two refreshes, two lines for odd-6's problems.
	if n := strings.Count(out, "database_id=odd-6"); n != 2 {
		t.Errorf("odd-6 logged %d times in two refreshes, want 2:\n%s", n, out)
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		if regexp.MustCompile(`\b` + key + `\b`).MatchString(out) {
			t.Errorf("log contains the key %q", key)
		}
	}
}

func TestCollectLint(t *testing.T) {
	t.Parallel()
	cfg, apis := cast()
	c := newTestCollector(t, cfg, apis, Options{Now: newClock(t0).now})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	apiMetrics := NewAPIMetrics()
	observe := apiMetrics.Observer("production")
	observe(upstash.EndpointListBackup, "200", 120*time.Millisecond)
	observe(upstash.EndpointListDatabases, upstash.CodeTimeout, 10*time.Second)
	problems, err = testutil.CollectAndLint(apiMetrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestAPIMetrics(t *testing.T) {
	t.Parallel()
	m := NewAPIMetrics()
	m.Observer("production")(upstash.EndpointListBackup, "200", 300*time.Millisecond)
	m.Observer("production")(upstash.EndpointListBackup, "200", 2*time.Second)
	m.Observer("staging")(upstash.EndpointListDatabases, "401", 50*time.Millisecond)
	want := `
# HELP upstash_backup_exporter_api_requests_total Upstash Developer API calls made, by endpoint and HTTP status code, or timeout or error when no status came back.
# TYPE upstash_backup_exporter_api_requests_total counter
upstash_backup_exporter_api_requests_total{account="production",code="200",endpoint="list_backup"} 2
upstash_backup_exporter_api_requests_total{account="staging",code="401",endpoint="list_databases"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "upstash_backup_exporter_api_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m, "upstash_backup_exporter_api_request_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want one per account and endpoint (2)", n)
	}
	want = `
# HELP upstash_backup_exporter_api_request_duration_seconds Latency of Upstash Developer API calls, by endpoint.
# TYPE upstash_backup_exporter_api_request_duration_seconds histogram
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="0.05"} 0
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="0.1"} 0
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="0.25"} 0
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="0.5"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="1"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="2.5"} 2
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="5"} 2
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="10"} 2
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="30"} 2
upstash_backup_exporter_api_request_duration_seconds_bucket{account="production",endpoint="list_backup",le="+Inf"} 2
upstash_backup_exporter_api_request_duration_seconds_sum{account="production",endpoint="list_backup"} 2.3
upstash_backup_exporter_api_request_duration_seconds_count{account="production",endpoint="list_backup"} 2
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="0.05"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="0.1"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="0.25"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="0.5"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="1"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="2.5"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="5"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="10"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="30"} 1
upstash_backup_exporter_api_request_duration_seconds_bucket{account="staging",endpoint="list_databases",le="+Inf"} 1
upstash_backup_exporter_api_request_duration_seconds_sum{account="staging",endpoint="list_databases"} 0.05
upstash_backup_exporter_api_request_duration_seconds_count{account="staging",endpoint="list_databases"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "upstash_backup_exporter_api_request_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// collectText collects c with ctx and renders the samples as sorted text
// lines, without HELP and TYPE.
func collectText(t *testing.T, ctx context.Context, c *Collector) string {
	t.Helper()
	var lines []string
	for line := range strings.Lines(exposition(t, c.Refresh(ctx))) {
		if !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "")
}

// exposition gathers c on a pedantic registry and renders the text format.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func hasLine(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}

func oneAccount(databases ...config.Database) []config.Account {
	return []config.Account{{Name: "a", Email: "ops@example.com", APIKey: "k", Databases: databases}}
}

// TestConcurrentCollectionsShareOneRefresh runs in a synctest bubble, so
// that synctest.Wait tells when every scrape is waiting for the refresh.
func TestConcurrentCollectionsShareOneRefresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		api := newStub()
		api.databases = []upstash.Database{db("db-1", "one", "pro", true)}
		api.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
		api.gate = make(chan struct{})
		api.entered = make(chan string, 1)
		c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now})

		const scrapes = 5
		var wg sync.WaitGroup
		results := make([]string, scrapes)
		for i := range scrapes {
			wg.Go(func() { results[i] = collectText(t, t.Context(), c) })
		}
		// Every scrape has joined while the one list-backup call is held.
		<-api.entered
		synctest.Wait()
		close(api.gate)
		wg.Wait()

		if n := api.calls("db-1"); n != 1 {
			t.Errorf("%d list-backup calls for %d concurrent scrapes, want 1", n, scrapes)
		}
		if n := api.listCount(); n != 1 {
			t.Errorf("%d list-databases calls for %d concurrent scrapes, want 1", n, scrapes)
		}
		for i, r := range results {
			if !hasLine(r, `upstash_backup_exporter_collect_success{database_id="db-1"} 1`) {
				t.Errorf("scrape %d:\n%s", i, r)
			}
		}

		// The refresh has ended: the next scrape starts a new one.
		api.set(func(s *stubAPI) { s.gate, s.entered = nil, nil })
		collectText(t, t.Context(), c)
		if n := api.calls("db-1"); n != 2 {
			t.Errorf("%d list-backup calls after a second refresh, want 2", n)
		}
	})
}

func TestCollectionEndsByItsDeadline(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.databases = []upstash.Database{db("quick", "quick", "pro", true), db("hung", "hung", "pro", true)}
	api.backups["quick"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	api.backups["hung"] = upstash.BackupList{Backups: []upstash.Backup{at(2*time.Hour, completed, 2)}}
	clk := newClock(t0)
	var logs syncBuffer
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: clk.now, RefreshTimeout: time.Second, Logger: newLogger(&logs)})

	// A first, good collection.
	first := collectText(t, t.Context(), c)
	for _, id := range []string{"quick", "hung"} {
		if !hasLine(first, `upstash_backup_exporter_collect_success{database_id="`+id+`"} 1`) {
			t.Fatalf("first collection:\n%s", first)
		}
	}

	// Now "hung" never answers: its call waits until its context ends.
	api.set(func(s *stubAPI) {
		s.gate = make(chan struct{}) // never closed
		s.gateIDs = map[string]bool{"hung": true}
	})
	clk.add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	second := collectText(t, ctx, c)

	for _, line := range []string{
		`upstash_backup_exporter_collect_success{database_id="quick"} 1`,
		// hung's read is in flight, not failed: it reports its last
		// finished read, keeps its last good values, and its last success
		// time shows how old they are.
		`upstash_backup_exporter_collect_success{database_id="hung"} 1`,
		`upstash_redis_backup_last_completed_timestamp_seconds{database_id="hung"} 1.7680392e+09`,
		`upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="hung"} 1.7680464e+09`,
		`upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="quick"} 1.76804646e+09`,
		`upstash_up{account="a"} 1`,
	} {
		if !hasLine(second, line) {
			t.Errorf("collection cut by its deadline lacks %s:\n%s", line, second)
		}
	}

	// The refresh's own deadline gives up on hung: that read has finished,
	// as a failure. A collection without a deadline waits for that refresh.
	third := collectText(t, context.Background(), c)
	for _, line := range []string{
		`upstash_backup_exporter_collect_success{database_id="quick"} 1`,
		`upstash_backup_exporter_collect_success{database_id="hung"} 0`,
		`upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="hung"} 1.7680464e+09`,
		`upstash_redis_backup_last_completed_timestamp_seconds{database_id="hung"} 1.7680392e+09`,
	} {
		if !hasLine(third, line) {
			t.Errorf("after the refresh deadline, lacks %s:\n%s", line, third)
		}
	}
	want := `level=ERROR msg="Listing backups failed" account=a database_id=hung class=timeout err="refresh deadline of 1s reached: context deadline exceeded"`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks\n%s\nlog:\n%s", want, logs.String())
	}
}

func TestCollectionWithHungListing(t *testing.T) {
	t.Parallel()
	api := &hungAPI{}
	c := newTestCollector(t, oneAccount(config.Database{ID: "db-1"}), nil, Options{Now: newClock(t0).now})
	c.accounts[0].api = api
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	got := collectText(t, ctx, c)
	// db-1's first read has not even started: collect_success is absent
	// until it ends (TestRefreshEndsByItsOwnDeadline); the account shows
	// that nothing answered.
	want := `upstash_backup_exporter_collect_duration_seconds 0
upstash_up{account="a"} 0
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// hungAPI never answers before its context ends.
type hungAPI struct{}

func (hungAPI) ListDatabases(ctx context.Context) ([]upstash.Database, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (hungAPI) ListBackups(ctx context.Context, _ string) (upstash.BackupList, error) {
	<-ctx.Done()
	return upstash.BackupList{}, ctx.Err()
}

func TestRefreshEndsByItsOwnDeadline(t *testing.T) {
	t.Parallel()
	c := newTestCollector(t, oneAccount(config.Database{ID: "db-1"}), nil, Options{
		Now:            newClock(t0).now,
		RefreshTimeout: 20 * time.Millisecond,
	})
	c.accounts[0].api = hungAPI{}
	// No deadline on the collection: it waits for the refresh, which ends
	// by its own.
	got := collectText(t, context.Background(), c)
	if !hasLine(got, `upstash_backup_exporter_collect_success{database_id="db-1"} 0`) || !hasLine(got, `upstash_up{account="a"} 0`) {
		t.Errorf("got\n%s", got)
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.databases = []upstash.Database{db("db-1", "one", "pro", true)}
	api.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	clk := newClock(t0)
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: clk.now, CacheTTL: 5 * time.Minute})

	steps := []struct {
		advance time.Duration
		calls   int
		success string
	}{
		{0, 1, "1.7680464e+09"},
		{time.Minute, 1, "1.7680464e+09"},     // cached
		{3 * time.Minute, 1, "1.7680464e+09"}, // 4 minutes old: still cached
		{time.Minute, 2, "1.7680467e+09"},     // 5 minutes old: fetched again
		{time.Minute, 2, "1.7680467e+09"},
	}
	for i, s := range steps {
		clk.add(s.advance)
		got := collectText(t, t.Context(), c)
		if n := api.calls("db-1"); n != s.calls {
			t.Errorf("step %d: %d list-backup calls, want %d", i, n, s.calls)
		}
		for _, line := range []string{
			`upstash_backup_exporter_collect_success{database_id="db-1"} 1`,
			`upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="db-1"} ` + s.success,
			`upstash_redis_backups{database_id="db-1",state="completed"} 1`,
			`upstash_redis_backups{database_id="db-1",state="failed"} 0`,
			`upstash_redis_backups{database_id="db-1",state="pending"} 0`,
			// A collection served from the cache keeps the account up.
			`upstash_up{account="a"} 1`,
		} {
			if !hasLine(got, line) {
				t.Errorf("step %d lacks %s:\n%s", i, line, got)
			}
		}
	}
	// The listing is cached with the same TTL: read at steps 0 and 3.
	if n := api.listCount(); n != 2 {
		t.Errorf("%d list-databases calls in %d collections, want 2 (once per TTL)", n, len(steps))
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	const limit, databases = 3, 40
	api := newStub()
	for i := range databases {
		id := "db-" + string(rune('A'+i))
		api.databases = append(api.databases, db(id, id, "pro", true))
	}
	api.gate = make(chan struct{})
	api.entered = make(chan string, databases)
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now, Concurrency: limit})

	done := make(chan string)
	go func() { done <- collectText(t, t.Context(), c) }()
	// limit calls are held at once; then all run through.
	for range limit {
		<-api.entered
	}
	close(api.gate)
	got := <-done

	api.mu.Lock()
	maxInFlight := api.maxInFlight
	api.mu.Unlock()
	if maxInFlight != limit {
		t.Errorf("at most %d list-backup calls in flight, want %d", maxInFlight, limit)
	}
	if n := strings.Count(got, "upstash_backup_exporter_collect_success{"); n != databases {
		t.Errorf("%d databases reported, want %d", n, databases)
	}
}

func TestDiscoveryFilters(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.databases = []upstash.Database{
		db("1", "prod-orders", "pro", true),
		db("2", "prod-orders-scratch", "pro", true),
		db("3", "dev-orders", "pro", true),
		db("4", "prod-sessions", "pro", true),
	}
	cfg := oneAccount()
	cfg[0].Include = regexp.MustCompile(`^prod-`)
	cfg[0].Exclude = regexp.MustCompile(`-scratch$`)
	c := newTestCollector(t, cfg, map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now})

	got := collectText(t, t.Context(), c)
	for id, watched := range map[string]bool{"1": true, "2": false, "3": false, "4": true} {
		wantCalls := 0
		if watched {
			wantCalls = 1
		}
		if n := api.calls(id); n != wantCalls {
			t.Errorf("database %s: %d list-backup calls, want %d", id, n, wantCalls)
		}
		if has := strings.Contains(got, `database_id="`+id+`"`); has != watched {
			t.Errorf("database %s: series present = %v, want %v:\n%s", id, has, watched, got)
		}
	}
}

func TestDatabaseInTwoAccountsIsExportedOnce(t *testing.T) {
	t.Parallel()
	a, b := newStub(), newStub()
	a.databases = []upstash.Database{db("shared", "shared", "pro", true)}
	b.databases = []upstash.Database{db("shared", "shared", "pro", true), db("own", "own", "pro", true)}
	cfg := []config.Account{{Name: "a", APIKey: "k"}, {Name: "b", APIKey: "k"}}
	c := newTestCollector(t, cfg, map[string]*stubAPI{"a": a, "b": b}, Options{Now: newClock(t0).now})
	// A duplicate series would fail the gather.
	got := collectText(t, t.Context(), c)
	if !hasLine(got, `upstash_redis_database_info{account="a",database_id="shared",database_name="shared",plan="pro",primary_region="us-east-1",region="us-east-1",state="active"} 1`) ||
		!strings.Contains(got, `database_id="own"`) {
		t.Errorf("got\n%s", got)
	}
}

func TestReloadKeepsState(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	clk := newClock(t0)
	apis := map[string]*stubAPI{"a": api}
	c := newTestCollector(t, oneAccount(config.Database{ID: "db-1"}), apis, Options{Now: clk.now})
	collectText(t, t.Context(), c)

	// After the reload the API fails: db-1 keeps its values; db-2 is new and
	// has only its health series; a renamed account starts afresh.
	api.set(func(s *stubAPI) {
		s.errs["db-1"] = serverError(upstash.EndpointListBackup, "db-1")
		s.errs["db-2"] = serverError(upstash.EndpointListBackup, "db-2")
	})
	if err := c.Reload(oneAccount(config.Database{ID: "db-1"}, config.Database{ID: "db-2"})); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	got := collectText(t, t.Context(), c)
	for _, line := range []string{
		`upstash_backup_exporter_collect_success{database_id="db-1"} 0`,
		`upstash_backup_exporter_collect_success{database_id="db-2"} 0`,
		`upstash_redis_backups{database_id="db-1",state="completed"} 1`,
		`upstash_redis_backups{database_id="db-1",state="failed"} 0`,
		`upstash_redis_backups{database_id="db-1",state="pending"} 0`,
		`upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="db-1"} 1.7680464e+09`,
	} {
		if !hasLine(got, line) {
			t.Errorf("after reload, lacks %s:\n%s", line, got)
		}
	}
	if strings.Contains(got, `upstash_redis_backups{database_id="db-2",`) {
		t.Errorf("db-2 has backup series without a successful read:\n%s", got)
	}

	// A factory error leaves the old configuration in force.
	bad := oneAccount(config.Database{ID: "db-3"})
	bad[0].Name = "missing"
	c.newAPI = func(config.Account) (API, error) { return nil, context.DeadlineExceeded }
	if err := c.Reload(bad); err == nil {
		t.Error("Reload accepted a configuration whose client could not be made")
	}
	if got := collectText(t, t.Context(), c); !strings.Contains(got, `database_id="db-2"`) {
		t.Errorf("failed reload changed the databases:\n%s", got)
	}
}

func TestCollectAfterClose(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	c := newTestCollector(t, oneAccount(config.Database{ID: "db-1"}), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now})
	collectText(t, t.Context(), c)
	c.Close()
	got := collectText(t, t.Context(), c)
	if !hasLine(got, `upstash_redis_backups{database_id="db-1",state="completed"} 1`) || api.calls("db-1") != 1 {
		t.Errorf("after Close: %d calls\n%s", api.calls("db-1"), got)
	}
}

// BenchmarkCollect measures a whole collection: a refresh of 100 databases
// of 100 backups each through a stub, their summaries and the metrics.
func BenchmarkCollect(b *testing.B) {
	api := newStub()
	for i := range 100 {
		id := "db-" + strconv.Itoa(i)
		api.databases = append(api.databases, db(id, id, "pro", true))
		backups := make([]upstash.Backup, 100)
		for j := range backups {
			backups[j] = daily(at(time.Duration(j)*24*time.Hour, completed, int64(j)<<20))
		}
		api.backups[id] = upstash.BackupList{Backups: backups}
	}
	c, err := New(oneAccount(), stubs(map[string]*stubAPI{"a": api}), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ch := make(chan prometheus.Metric, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c.Refresh(b.Context()).Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}
