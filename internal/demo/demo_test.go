package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// demoStart is when the demos of these tests start: a minute before the
// orders daily backup and half an hour after the sessions one.
var demoStart = time.Date(2025, time.March, 10, 2, 59, 0, 0, time.UTC)

func utc(month time.Month, day, hour, minute, second int) time.Time {
	return time.Date(2025, month, day, hour, minute, second, 0, time.UTC)
}

// call makes a request to the demo through its RoundTrip, as --demo does,
// and returns the status and body.
func call(t *testing.T, api *demo.API, method, path, email, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, demo.BaseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(email, key)
	resp, err := (&http.Client{Transport: api}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func get(t *testing.T, api *demo.API, path string) []byte {
	t.Helper()
	code, body := call(t, api, http.MethodGet, path, demo.Email, demo.APIKey)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

func demoBackups(t *testing.T, api *demo.API, id string) []demo.Backup {
	t.Helper()
	var backups []demo.Backup
	if err := json.Unmarshal(get(t, api, "/redis/list-backup/"+id), &backups); err != nil {
		t.Fatal(err)
	}
	return backups
}

// backupSummary is what the exporter would read from a backup list.
type backupSummary struct {
	count         int
	newest        time.Time
	newestState   string
	lastCompleted time.Time
}

func summarize(t *testing.T, id string, backups []demo.Backup) backupSummary {
	t.Helper()
	var sum backupSummary
	ids := map[string]bool{}
	for _, b := range backups {
		if b.DatabaseID != id || b.BackupID == "" || ids[b.BackupID] {
			t.Errorf("backup %+v: wrong database or missing or repeated id", b)
		}
		ids[b.BackupID] = true
		if (b.State == upstash.StateCompleted) != (b.BackupSize > 0) {
			t.Errorf("backup %+v: only completed backups have a size", b)
		}
		created := b.Created()
		sum.count++
		if created.After(sum.newest) {
			sum.newest, sum.newestState = created, b.State
		}
		if b.State == upstash.StateCompleted && created.After(sum.lastCompleted) {
			sum.lastCompleted = created
		}
	}
	return sum
}

func TestDemoCast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		want backupSummary
	}{
		{"orders before 03:00", demo.HealthyDailyID, demoStart,
			backupSummary{7, utc(3, 9, 3, 0, 0), upstash.StateCompleted, utc(3, 9, 3, 0, 0)}},
		{"orders at 03:00", demo.HealthyDailyID, utc(3, 10, 3, 0, 0),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 9, 3, 0, 0)}},
		{"orders still running", demo.HealthyDailyID, utc(3, 10, 3, 4, 59),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 9, 3, 0, 0)}},
		{"orders done", demo.HealthyDailyID, utc(3, 10, 3, 5, 0),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StateCompleted, utc(3, 10, 3, 0, 0)}},
		{"orders a month on", demo.HealthyDailyID, utc(4, 9, 12, 0, 0),
			backupSummary{7, utc(4, 9, 3, 0, 0), upstash.StateCompleted, utc(4, 9, 3, 0, 0)}},

		{"sessions at start", demo.FailingID, demoStart,
			backupSummary{7, utc(3, 10, 2, 30, 0), upstash.StateFailed, utc(3, 8, 2, 30, 0)}},
		{"sessions ten days on keeps the last good backup", demo.FailingID, utc(3, 20, 2, 59, 0),
			backupSummary{8, utc(3, 20, 2, 30, 0), upstash.StateFailed, utc(3, 8, 2, 30, 0)}},
		{"sessions before it began failing", demo.FailingID, utc(3, 7, 2, 59, 0),
			backupSummary{7, utc(3, 7, 2, 30, 0), upstash.StateCompleted, utc(3, 7, 2, 30, 0)}},

		{"analytics at start", demo.StuckPendingID, demoStart,
			backupSummary{7, utc(3, 9, 1, 0, 0), upstash.StatePending, utc(3, 8, 1, 0, 0)}},
		{"analytics three days on", demo.StuckPendingID, utc(3, 13, 2, 59, 0),
			backupSummary{7, utc(3, 9, 1, 0, 0), upstash.StatePending, utc(3, 8, 1, 0, 0)}},

		{"scratch-cache", demo.NeverBackedUpID, demoStart, backupSummary{}},

		{"payments before 03:00", demo.HourlyID, demoStart,
			backupSummary{24, utc(3, 10, 2, 0, 0), upstash.StateCompleted, utc(3, 10, 2, 0, 0)}},
		{"payments running", demo.HourlyID, utc(3, 10, 3, 1, 59),
			backupSummary{24, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 10, 2, 0, 0)}},
		{"payments done", demo.HourlyID, utc(3, 10, 3, 2, 0),
			backupSummary{24, utc(3, 10, 3, 0, 0), upstash.StateCompleted, utc(3, 10, 3, 0, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: demoStart}
			api := demo.New(clock.now)
			clock.set(tc.at)
			if got := summarize(t, tc.id, demoBackups(t, api, tc.id)); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDemoStuckBackupIsOld(t *testing.T) {
	t.Parallel()
	// Started right after analytics' 01:00 slot: the stuck backup must
	// still be at least six hours old, so it is yesterday's.
	for _, start := range []time.Time{utc(3, 10, 1, 0, 0), utc(3, 10, 7, 0, 0), utc(3, 10, 6, 59, 59), demoStart} {
		api := demo.New(func() time.Time { return start })
		sum := summarize(t, demo.StuckPendingID, demoBackups(t, api, demo.StuckPendingID))
		if age := start.Sub(sum.newest); sum.newestState != upstash.StatePending || age < 6*time.Hour || age >= 30*time.Hour {
			t.Errorf("started at %v: newest %v %s, age %v", start, sum.newest, sum.newestState, age)
		}
	}
}

func TestDemoBackupKinds(t *testing.T) {
	t.Parallel()
	api := demo.New(func() time.Time { return demoStart })
	for _, tc := range []struct {
		id            string
		daily, hourly string
	}{
		{demo.HealthyDailyID, "true", "false"},
		{demo.FailingID, "true", "false"},
		{demo.StuckPendingID, "true", "false"},
		{demo.HourlyID, "false", "true"},
		{demo.GapID, "true", "false"},
	} {
		backups := demoBackups(t, api, tc.id)
		for _, b := range backups {
			if b.DailyBackup != tc.daily || b.HourlyBackup != tc.hourly || b.CustomerID != demo.Email {
				t.Errorf("%s: %+v", tc.id, b)
			}
		}
		// Older completed backups are smaller: the databases grow.
		slices.SortFunc(backups, func(a, b demo.Backup) int { return int(a.CreationTime - b.CreationTime) })
		var last int64
		for _, b := range backups {
			if b.State != upstash.StateCompleted || tc.id == demo.HourlyID {
				continue
			}
			if b.BackupSize <= last {
				t.Errorf("%s: %s is %d bytes, not more than the one before (%d)", tc.id, b.Name, b.BackupSize, last)
			}
			last = b.BackupSize
		}
	}
}

func TestDemoIsDeterministic(t *testing.T) {
	t.Parallel()
	at := func() time.Time { return demoStart }
	a, b := demo.New(at), demo.New(at)
	for _, path := range []string{"/redis/databases", "/redis/list-backup/" + demo.HealthyDailyID, "/redis/list-backup/" + demo.HourlyID} {
		if x, y := get(t, a, path), get(t, b, path); !bytes.Equal(x, y) {
			t.Errorf("%s differs:\n%s\n%s", path, x, y)
		}
	}
}

// TestDemoThroughTheClient reads the demo as --demo does: with the upstash
// client, the API as its Transport and the placeholder base URL.
func TestDemoThroughTheClient(t *testing.T) {
	t.Parallel()
	c, err := upstash.New(upstash.Config{BaseURL: demo.BaseURL, Email: demo.Email, APIKey: demo.APIKey, Transport: demo.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	dbs, err := c.ListDatabases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dbs, demo.Databases()) {
		t.Errorf("databases\n%+v\nwant\n%+v", dbs, demo.Databases())
	}
	want := []string{"orders true", "sessions true", "analytics true", "scratch-cache false", "payments true", "inventory true", "search-index true"}
	var got []string
	for _, db := range dbs {
		got = append(got, db.Name+" "+map[bool]string{true: "true", false: "false"}[db.DailyBackupEnabled])
	}
	if !slices.Equal(got, want) {
		t.Errorf("databases %v, want %v", got, want)
	}
	if dbs[4].Plan != "pro" {
		t.Errorf("payments plan %q, want pro", dbs[4].Plan)
	}
	for _, db := range dbs {
		list, err := c.ListBackups(t.Context(), db.ID)
		if err != nil || len(list.Problems) > 0 {
			t.Errorf("%s: %v %+v", db.Name, err, list.Problems)
		}
		if (len(list.Backups) == 0) != (db.ID == demo.NeverBackedUpID) {
			t.Errorf("%s: %d backups", db.Name, len(list.Backups))
		}
	}
}

func TestDemoRefusesWhatTheAPIRefuses(t *testing.T) {
	t.Parallel()
	api := demo.New(func() time.Time { return demoStart })
	for _, tc := range []struct {
		name, method, path, email, key string
		want                           int
	}{
		{"wrong key", http.MethodGet, "/redis/databases", demo.Email, "nope", http.StatusUnauthorized},
		{"wrong e-mail", http.MethodGet, "/redis/databases", "ops@example.com", demo.APIKey, http.StatusUnauthorized},
		{"not a GET", http.MethodPost, "/redis/databases", demo.Email, demo.APIKey, http.StatusMethodNotAllowed},
		{"unknown database", http.MethodGet, "/redis/list-backup/nope", demo.Email, demo.APIKey, http.StatusNotFound},
		{"unknown path", http.MethodGet, "/teams", demo.Email, demo.APIKey, http.StatusNotFound},
	} {
		if code, body := call(t, api, tc.method, tc.path, tc.email, tc.key); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
}

func TestDemoHonoursAnEndedContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, demo.BaseURL+"/redis/databases", nil)
	if resp, err := demo.New(nil).RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Error("RoundTrip answered a request whose context had ended")
	}
}
