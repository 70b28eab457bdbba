package collector

import (
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// With a cache TTL, the refreshes between two listings read only the
// databases whose last read failed. Their failing again says nothing about
// the account: upstash_up keeps what the last refresh with news found, and
// moves on a success, a refusal, or a refresh that also reads the others.
func TestUpIgnoresRetriesOfFailingDatabases(t *testing.T) {
	t.Parallel()
	api := newStub()
	api.databases = []upstash.Database{db("db-ok", "ok", "pro", true), db("db-bad", "bad", "pro", true)}
	api.backups["db-ok"] = upstash.BackupList{Backups: []upstash.Backup{at(time.Hour, completed, 1)}}
	api.errs["db-bad"] = serverError(upstash.EndpointListBackup, "db-bad")
	clk := newClock(t0)
	c := newTestCollector(t, oneAccount(), map[string]*stubAPI{"a": api}, Options{Now: clk.now, CacheTTL: 5 * time.Minute})

	steps := []struct {
		name    string
		advance time.Duration
		change  func(s *stubAPI)
		// up is upstash_up after the step; okCalls and badCalls are the
		// list-backup calls so far.
		up                string
		okCalls, badCalls int
	}{
		{"first refresh: one database fails, the other is read", 0, nil, "1", 1, 1},
		{"only the failing database is read again, and fails", time.Minute, nil, "1", 1, 2},
		{"and again", time.Minute, nil, "1", 1, 3},
		{"a refusal of the retry is news", time.Minute, func(s *stubAPI) { s.errs["db-bad"] = authError(upstash.EndpointListBackup) }, "0", 1, 4},
		{"a 5xx after the refusal keeps the refusal", time.Minute, func(s *stubAPI) { s.errs["db-bad"] = serverError(upstash.EndpointListBackup, "db-bad") }, "0", 1, 5},
		{"the TTL ends: listing and both databases read, one succeeds", time.Minute, nil, "1", 2, 6},
		{"the API fails for every call at the next TTL", 5 * time.Minute, func(s *stubAPI) {
			s.listErr = serverError(upstash.EndpointListDatabases, "")
			s.errs["db-ok"] = serverError(upstash.EndpointListBackup, "db-ok")
		}, "0", 3, 7},
		{"a retry that succeeds is news", time.Minute, func(s *stubAPI) {
			s.listErr = nil
			delete(s.errs, "db-ok")
			delete(s.errs, "db-bad")
		}, "1", 4, 8},
	}
	for _, s := range steps {
		clk.add(s.advance)
		if s.change != nil {
			api.set(s.change)
		}
		got := collectText(t, t.Context(), c)
		if line := `upstash_up{account="a"} ` + s.up; !hasLine(got, line) {
			t.Errorf("%s: lacks %s:\n%s", s.name, line, got)
		}
		if ok, bad := api.calls("db-ok"), api.calls("db-bad"); ok != s.okCalls || bad != s.badCalls {
			t.Errorf("%s: list-backup calls db-ok %d, db-bad %d; want %d, %d", s.name, ok, bad, s.okCalls, s.badCalls)
		}
	}
}
