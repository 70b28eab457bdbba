package upstashtest_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

func TestGenerateBackups(t *testing.T) {
	t.Parallel()
	newest := time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		n        int
		interval time.Duration
	}{
		{0, time.Hour},
		{1, 24 * time.Hour},
		{100, 24 * time.Hour},
		{24, time.Hour},
	} {
		backups := upstashtest.GenerateBackups(ordersID, tc.n, newest, tc.interval)
		if len(backups) != tc.n {
			t.Fatalf("n=%d: %d backups", tc.n, len(backups))
		}
		if again := upstashtest.GenerateBackups(ordersID, tc.n, newest, tc.interval); !slices.Equal(backups, again) {
			t.Errorf("n=%d: not the same twice", tc.n)
		}
		ids := map[string]bool{}
		for i, b := range backups {
			if want := newest.Add(-time.Duration(i) * tc.interval); !b.Created().Equal(want) {
				t.Errorf("n=%d: backup %d created %v, want %v", tc.n, i, b.Created(), want)
			}
			if i > 0 && b.BackupSize >= backups[i-1].BackupSize {
				t.Errorf("n=%d: backup %d not smaller than the newer one", tc.n, i)
			}
			if ids[b.BackupID] || b.State != "completed" || b.DailyBackup != "true" {
				t.Errorf("n=%d: backup %d: %+v", tc.n, i, b)
			}
			ids[b.BackupID] = true
		}
	}
}

func TestAddGeneratedDatabases(t *testing.T) {
	t.Parallel()
	s := upstashtest.NewServer(upstashtest.WithClock(func() time.Time { return time.Date(2025, 3, 10, 3, 30, 0, 0, time.UTC) }))
	defer s.Close()
	ids := s.AddGeneratedDatabases(50, 10)
	if len(ids) != 50 || ids[49] != upstashtest.GeneratedDatabaseID(49) || len(s.Databases()) != 50 {
		t.Fatalf("ids %v, %d databases", ids, len(s.Databases()))
	}
	var dbs []json.RawMessage
	if err := json.Unmarshal([]byte(get(t, s, "/redis/databases").body), &dbs); err != nil || len(dbs) != 50 {
		t.Fatalf("list-databases: %d, %v", len(dbs), err)
	}
	a := get(t, s, "/redis/list-backup/"+ids[49])
	var backups []upstashtest.Backup
	if err := json.Unmarshal([]byte(a.body), &backups); err != nil || a.status != http.StatusOK || len(backups) != 10 {
		t.Fatalf("list-backup: %d, %d backups, %v", a.status, len(backups), err)
	}
	if newest := backups[0].Created(); !newest.Equal(time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("newest backup %v, want the start of the clock's hour", newest)
	}
}

// BenchmarkListBackup measures the fake alone at the size the exporter's
// benchmarks use, to show it is not what they measure.
func BenchmarkListBackup(b *testing.B) {
	s := upstashtest.New(upstashtest.WithRequestLogLimit(0))
	defer s.Close()
	ids := s.AddGeneratedDatabases(5000, 100)
	reqs := make([]*http.Request, len(ids))
	for i, id := range ids {
		reqs[i], _ = http.NewRequestWithContext(b.Context(), http.MethodGet, "/redis/list-backup/"+id, nil)
		reqs[i].SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	}
	h := s.Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.ServeHTTP(discard{}, reqs[i%len(reqs)])
		i++
	}
}
