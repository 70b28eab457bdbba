package upstashtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash/upstashtest"
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

// demoStart is when the demo servers of these tests are made: a minute
// before the orders daily backup and half an hour after the sessions one.
var demoStart = time.Date(2025, time.March, 10, 2, 59, 0, 0, time.UTC)

func utc(month time.Month, day, hour, minute, second int) time.Time {
	return time.Date(2025, month, day, hour, minute, second, 0, time.UTC)
}

// inProcessGet calls the demo through its Handler, as --demo can.
func inProcessGet(t *testing.T, s *upstashtest.Server, path string) []byte {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
	r.SetBasicAuth(upstashtest.DemoEmail, upstashtest.DemoAPIKey)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

func demoBackups(t *testing.T, s *upstashtest.Server, id string) []upstashtest.Backup {
	t.Helper()
	var backups []upstashtest.Backup
	if err := json.Unmarshal(inProcessGet(t, s, "/redis/list-backup/"+id), &backups); err != nil {
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

func summarize(t *testing.T, id string, backups []upstashtest.Backup) backupSummary {
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
		{"orders before 03:00", upstashtest.DemoHealthyDailyID, demoStart,
			backupSummary{7, utc(3, 9, 3, 0, 0), upstash.StateCompleted, utc(3, 9, 3, 0, 0)}},
		{"orders at 03:00", upstashtest.DemoHealthyDailyID, utc(3, 10, 3, 0, 0),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 9, 3, 0, 0)}},
		{"orders still running", upstashtest.DemoHealthyDailyID, utc(3, 10, 3, 4, 59),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 9, 3, 0, 0)}},
		{"orders done", upstashtest.DemoHealthyDailyID, utc(3, 10, 3, 5, 0),
			backupSummary{7, utc(3, 10, 3, 0, 0), upstash.StateCompleted, utc(3, 10, 3, 0, 0)}},
		{"orders a month on", upstashtest.DemoHealthyDailyID, utc(4, 9, 12, 0, 0),
			backupSummary{7, utc(4, 9, 3, 0, 0), upstash.StateCompleted, utc(4, 9, 3, 0, 0)}},

		{"sessions at start", upstashtest.DemoFailingID, demoStart,
			backupSummary{7, utc(3, 10, 2, 30, 0), upstash.StateFailed, utc(3, 8, 2, 30, 0)}},
		{"sessions ten days on keeps the last good backup", upstashtest.DemoFailingID, utc(3, 20, 2, 59, 0),
			backupSummary{8, utc(3, 20, 2, 30, 0), upstash.StateFailed, utc(3, 8, 2, 30, 0)}},
		{"sessions before it began failing", upstashtest.DemoFailingID, utc(3, 7, 2, 59, 0),
			backupSummary{7, utc(3, 7, 2, 30, 0), upstash.StateCompleted, utc(3, 7, 2, 30, 0)}},

		{"analytics at start", upstashtest.DemoStuckPendingID, demoStart,
			backupSummary{7, utc(3, 9, 1, 0, 0), upstash.StatePending, utc(3, 8, 1, 0, 0)}},
		{"analytics three days on", upstashtest.DemoStuckPendingID, utc(3, 13, 2, 59, 0),
			backupSummary{7, utc(3, 9, 1, 0, 0), upstash.StatePending, utc(3, 8, 1, 0, 0)}},

		{"scratch-cache", upstashtest.DemoNeverBackedUpID, demoStart, backupSummary{}},

		{"payments before 03:00", upstashtest.DemoHourlyID, demoStart,
			backupSummary{24, utc(3, 10, 2, 0, 0), upstash.StateCompleted, utc(3, 10, 2, 0, 0)}},
		{"payments running", upstashtest.DemoHourlyID, utc(3, 10, 3, 1, 59),
			backupSummary{24, utc(3, 10, 3, 0, 0), upstash.StatePending, utc(3, 10, 2, 0, 0)}},
		{"payments done", upstashtest.DemoHourlyID, utc(3, 10, 3, 2, 0),
			backupSummary{24, utc(3, 10, 3, 0, 0), upstash.StateCompleted, utc(3, 10, 3, 0, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: demoStart}
			s := upstashtest.New(upstashtest.WithClock(clock.now), upstashtest.WithDemoCast())
			defer s.Close()
			clock.set(tc.at)
			if got := summarize(t, tc.id, demoBackups(t, s, tc.id)); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDemoStuckBackupIsOld(t *testing.T) {
	t.Parallel()
	// Made right after analytics' 01:00 slot: the stuck backup must still
	// be at least six hours old, so it is yesterday's.
	for _, start := range []time.Time{utc(3, 10, 1, 0, 0), utc(3, 10, 7, 0, 0), utc(3, 10, 6, 59, 59), demoStart} {
		s := upstashtest.New(upstashtest.WithClock(func() time.Time { return start }), upstashtest.WithDemoCast())
		sum := summarize(t, upstashtest.DemoStuckPendingID, demoBackups(t, s, upstashtest.DemoStuckPendingID))
		s.Close()
		if age := start.Sub(sum.newest); sum.newestState != upstash.StatePending || age < 6*time.Hour || age >= 30*time.Hour {
			t.Errorf("made at %v: newest %v %s, age %v", start, sum.newest, sum.newestState, age)
		}
	}
}

func TestDemoBackupKinds(t *testing.T) {
	t.Parallel()
	s := upstashtest.New(upstashtest.WithClock(func() time.Time { return demoStart }), upstashtest.WithDemoCast())
	defer s.Close()
	for _, tc := range []struct {
		id            string
		daily, hourly string
	}{
		{upstashtest.DemoHealthyDailyID, "true", "false"},
		{upstashtest.DemoFailingID, "true", "false"},
		{upstashtest.DemoStuckPendingID, "true", "false"},
		{upstashtest.DemoHourlyID, "false", "true"},
	} {
		backups := demoBackups(t, s, tc.id)
		for _, b := range backups {
			if b.DailyBackup != tc.daily || b.HourlyBackup != tc.hourly || b.CustomerID != upstashtest.DemoEmail {
				t.Errorf("%s: %+v", tc.id, b)
			}
		}
		// Older completed backups are smaller: the databases grow.
		slices.SortFunc(backups, func(a, b upstashtest.Backup) int { return int(a.CreationTime - b.CreationTime) })
		var last int64
		for _, b := range backups {
			if b.State != upstash.StateCompleted || tc.id == upstashtest.DemoHourlyID {
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
	a := upstashtest.New(upstashtest.WithClock(at), upstashtest.WithDemoCast())
	b := upstashtest.New(upstashtest.WithClock(at), upstashtest.WithDemoCast())
	defer a.Close()
	defer b.Close()
	for _, path := range []string{"/redis/databases", "/redis/list-backup/" + upstashtest.DemoHealthyDailyID, "/redis/list-backup/" + upstashtest.DemoHourlyID} {
		if x, y := inProcessGet(t, a, path), inProcessGet(t, b, path); !bytes.Equal(x, y) {
			t.Errorf("%s differs:\n%s\n%s", path, x, y)
		}
	}
}

func TestNewDemo(t *testing.T) {
	t.Parallel()
	s := upstashtest.NewDemo(nil)
	defer s.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/redis/databases", nil)
	req.SetBasicAuth(upstashtest.DemoEmail, upstashtest.DemoAPIKey)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var dbs []struct {
		ID    string `json:"database_id"`
		Name  string `json:"database_name"`
		Plan  string `json:"type"`
		Daily bool   `json:"daily_backup_enabled"`
	}
	if err := json.Unmarshal(body, &dbs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []string{"orders true", "sessions true", "analytics true", "scratch-cache false", "payments true"}
	var got []string
	for _, db := range dbs {
		got = append(got, db.Name+" "+map[bool]string{true: "true", false: "false"}[db.Daily])
	}
	if !slices.Equal(got, want) {
		t.Errorf("databases %v, want %v", got, want)
	}
	if dbs[4].Plan != "pro" {
		t.Errorf("payments plan %q, want pro", dbs[4].Plan)
	}
}
