package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// An account whose listing becomes empty (a valid key of another team, for
// example): the count shows 0, the discovered databases' series vanish, a
// warning is logged once, and a configured account keeps its databases.
func TestAccountListsNoDatabases(t *testing.T) {
	t.Parallel()
	disc, static := newStub(), newStub()
	for _, s := range []*stubAPI{disc, static} {
		s.databases = []upstash.Database{db("db-1", "one", "pro", true), db("db-2", "two", "pro", true)}
	}
	disc.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	static.backups["cfg-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	cfg := []config.Account{
		{Name: "disc", Email: "ops@example.com", APIKey: "k1"},
		{Name: "static", Email: "ops@example.com", APIKey: "k2", Databases: []config.Database{{ID: "cfg-1"}}},
	}
	var logs syncBuffer
	c := newTestCollector(t, cfg, map[string]*stubAPI{"disc": disc, "static": static}, Options{Now: newClock(t0).now, Logger: newLogger(&logs)})

	first := collectText(t, t.Context(), c)
	for _, line := range []string{
		`upstash_redis_databases{account="disc"} 2`,
		`upstash_redis_databases{account="static"} 2`,
		`upstash_backup_exporter_collect_success{database_id="db-1"} 1`,
	} {
		if !hasLine(first, line) {
			t.Errorf("first collection lacks %s:\n%s", line, first)
		}
	}

	for _, s := range []*stubAPI{disc, static} {
		s.set(func(s *stubAPI) { s.databases = nil })
	}
	for i := range 2 {
		got := collectText(t, t.Context(), c)
		for _, line := range []string{
			`upstash_redis_databases{account="disc"} 0`,
			`upstash_redis_databases{account="static"} 0`,
			`upstash_up{account="disc"} 1`,
			// Configured databases are watched whatever the listing says.
			`upstash_backup_exporter_collect_success{database_id="cfg-1"} 1`,
			`upstash_redis_backups{database_id="cfg-1",state="completed"} 1`,
			`upstash_redis_backups{database_id="cfg-1",state="failed"} 0`,
			`upstash_redis_backups{database_id="cfg-1",state="pending"} 0`,
		} {
			if !hasLine(got, line) {
				t.Errorf("collection %d after the listing emptied lacks %s:\n%s", i, line, got)
			}
		}
		if strings.Contains(got, `database_id="db-1"`) || strings.Contains(got, `database_id="db-2"`) {
			t.Errorf("collection %d: discovered databases still exported:\n%s", i, got)
		}
	}
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="Account lists no databases" account=disc previously_listed=2`,
		`level=WARN msg="Account lists no databases" account=static previously_listed=2`,
	} {
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("%d lines %s in two refreshes with an empty listing, want 1:\n%s", n, want, out)
		}
	}

	// A listing again: the databases come back, and a later emptying is
	// logged again.
	disc.set(func(s *stubAPI) { s.databases = []upstash.Database{db("db-1", "one", "pro", true)} })
	if got := collectText(t, t.Context(), c); !hasLine(got, `upstash_redis_databases{account="disc"} 1`) ||
		!hasLine(got, `upstash_backup_exporter_collect_success{database_id="db-1"} 1`) {
		t.Errorf("after the listing came back:\n%s", got)
	}
	disc.set(func(s *stubAPI) { s.databases = nil })
	collectText(t, t.Context(), c)
	if want := `level=WARN msg="Account lists no databases" account=disc previously_listed=1`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}
}

// The count is absent until a listing succeeded, and an account whose first
// listing is empty is warned about without a previous count.
func TestDatabasesCountAbsentUntilAListingSucceeded(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.listErr = serverError(upstash.EndpointListDatabases, "")
	var logs syncBuffer
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now, Logger: newLogger(&logs)})
	if got := collectText(t, t.Context(), c); strings.Contains(got, "upstash_redis_databases{") {
		t.Errorf("count exported without a successful listing:\n%s", got)
	}
	api.set(func(s *stubAPI) { s.listErr = nil })
	if got := collectText(t, t.Context(), c); !hasLine(got, `upstash_redis_databases{account="a"} 0`) {
		t.Errorf("empty listing:\n%s", got)
	}
	if want := `level=WARN msg="Account lists no databases" account=a` + "\n"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// Ids "." and ".." would be normalised away in the list-backup URL: they
// are not read, and each is warned about once.
func TestDiscoverySkipsDotIDs(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.databases = []upstash.Database{db(".", "dot", "pro", true), db("..", "dotdot", "pro", true), db("ok", "ok", "pro", true)}
	var logs syncBuffer
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now, Logger: newLogger(&logs)})
	var got string
	for range 2 {
		got = collectText(t, t.Context(), c)
	}
	if n := api.calls(".") + api.calls(".."); n != 0 {
		t.Errorf("%d list-backup calls for . and ..", n)
	}
	if strings.Contains(got, `database_id="."`) || strings.Contains(got, `database_id=".."`) {
		t.Errorf("dot ids exported:\n%s", got)
	}
	if !hasLine(got, `upstash_backup_exporter_collect_success{database_id="ok"} 1`) || !hasLine(got, `upstash_redis_databases{account="a"} 3`) {
		t.Errorf("got\n%s", got)
	}
	for _, id := range []string{".", ".."} {
		want := `level=WARN msg="Database left out of discovery: a URL path would normalise its id away" account=a database_id=` + id + "\n"
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%d warnings %q in two refreshes, want 1:\n%s", n, want, logs.String())
		}
	}
}

// A backup list that empties is logged once and shows 0 backups; the
// series that need a backup vanish.
func TestBackupListEmptied(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.backups["db-1"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1), at(25*time.Hour, completed, 1)}}
	var logs syncBuffer
	c := newTestCollector(t, oneAccount(config.Database{ID: "db-1"}), map[string]*stubAPI{"a": api}, Options{Now: newClock(t0).now, Logger: newLogger(&logs)})
	collectText(t, t.Context(), c)
	api.set(func(s *stubAPI) { s.backups["db-1"] = upstash.BackupList{} })
	var got string
	for range 2 {
		got = collectText(t, t.Context(), c)
	}
	for _, line := range []string{
		`upstash_redis_backups{database_id="db-1",state="completed"} 0`,
		`upstash_redis_backups{database_id="db-1",state="failed"} 0`,
		`upstash_redis_backups{database_id="db-1",state="pending"} 0`,
		`upstash_backup_exporter_collect_success{database_id="db-1"} 1`,
	} {
		if !hasLine(got, line) {
			t.Errorf("lacks %s:\n%s", line, got)
		}
	}
	if strings.Contains(got, `upstash_redis_backups{database_id="db-1",state="unknown"}`) {
		t.Errorf("unknown state exported without a backup:\n%s", got)
	}
	if strings.Contains(got, "upstash_redis_backup_last_completed_timestamp_seconds{") {
		t.Errorf("last completed exported without a backup:\n%s", got)
	}
	want := `level=WARN msg="Backup list is empty, it listed backups before" account=a database_id=db-1 previously_listed=2 unreadable=0`
	if n := strings.Count(logs.String(), want); n != 1 {
		t.Errorf("%d lines %s, want 1:\n%s", n, want, logs.String())
	}
}

// A database watched through two accounts is warned about when the overlap
// appears, not on every refresh, and again when it comes back after going
// away.
func TestSharedDatabaseWarnedOnce(t *testing.T) {
	t.Parallel()
	one, two := newStub(), newStub()
	one.databases = []upstash.Database{db("db-1", "orders", "pro", true)}
	two.databases = []upstash.Database{db("db-1", "orders", "pro", true)}
	accounts := []config.Account{
		{Name: "one", Email: "ops@example.com", APIKey: "k1"},
		{Name: "two", Email: "ops@example.com", APIKey: "k2"},
	}
	var logs syncBuffer
	c := newTestCollector(t, accounts, map[string]*stubAPI{"one": one, "two": two}, Options{Now: newClock(t0).now, Logger: newLogger(&logs)})
	const warning = `msg="Database is watched through more than one account; only the first account's series are exported" database_id=db-1 account=one also_account=two`
	count := func() int { return strings.Count(logs.String(), warning) }
	for range 3 {
		collectText(t, t.Context(), c)
	}
	if n := count(); n != 1 {
		t.Fatalf("warned %d times over 3 refreshes, want once:\n%s", n, logs.String())
	}
	two.set(func(s *stubAPI) { s.databases = nil })
	collectText(t, t.Context(), c)
	two.set(func(s *stubAPI) { s.databases = []upstash.Database{db("db-1", "orders", "pro", true)} })
	collectText(t, t.Context(), c)
	if n := count(); n != 2 {
		t.Errorf("warned %d times after the overlap came back, want 2:\n%s", n, logs.String())
	}
}
