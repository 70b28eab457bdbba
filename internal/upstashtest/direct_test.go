package upstashtest_test

import (
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// TestDirectAnswer checks that a front end is offered exactly the
// answers Handler would send unchanged, with the waits it would make.
func TestDirectAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		set         func(*upstashtest.Server)
		path        string
		wantLatency time.Duration
		wantOK      bool
	}{
		{"plain", func(*upstashtest.Server) {}, "/redis/list-backup/" + ordersID, 0, true},
		{"latencies add up", func(s *upstashtest.Server) {
			s.SetLatency(time.Second)
			s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Latency: 50 * time.Millisecond})
		}, "/redis/list-backup/" + ordersID, time.Second + 50*time.Millisecond, true},
		{"own fault before every database's", func(s *upstashtest.Server) {
			s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Latency: time.Second})
			s.SetFault(ordersID, upstashtest.Fault{Latency: time.Millisecond})
		}, "/redis/list-backup/" + ordersID, time.Millisecond, true},
		{"fault with a status", func(s *upstashtest.Server) {
			s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503, Latency: time.Second})
		}, "/redis/list-backup/" + ordersID, 0, false},
		{"fault with a body", func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Body: []byte("[]")}) }, "/redis/list-backup/" + ordersID, 0, false},
		{"hang", func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Hang: true}) }, "/redis/list-backup/" + ordersID, 0, false},
		{"trickle", func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{TrickleInterval: time.Second}) }, "/redis/list-backup/" + ordersID, 0, false},
		{"times", func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Latency: time.Second, Times: 1}) }, "/redis/list-backup/" + ordersID, 0, false},
		{"clock-driven backups", func(s *upstashtest.Server) {
			s.SetBackupsFunc(ordersID, func(time.Time) []upstashtest.Backup { return nil })
		}, "/redis/list-backup/" + ordersID, 0, false},
		{"no backups", func(s *upstashtest.Server) { s.AddDatabase(upstashtest.Database{ID: "empty"}) }, "/redis/list-backup/empty", 0, true},
		{"unknown database", func(*upstashtest.Server) {}, "/redis/list-backup/nowhere", 0, false},
		{"list-databases", func(s *upstashtest.Server) {
			s.SetLatency(time.Second)
			s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503})
		}, "/redis/databases", time.Second, true},
		{"list-databases fault", func(s *upstashtest.Server) {
			s.SetListDatabasesFault(upstashtest.Fault{Status: 429})
		}, "/redis/databases", 0, false},
		{"list-databases fault latency", func(s *upstashtest.Server) {
			s.SetListDatabasesFault(upstashtest.Fault{Latency: time.Second})
		}, "/redis/databases", time.Second, true},
		{"get-database", func(*upstashtest.Server) {}, "/redis/database/" + ordersID, 0, false},
		{"no such path", func(*upstashtest.Server) {}, "/redis/list-backup/a/b", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newOrdersServer(t)
			tc.set(s)
			latency, body, ok := s.DirectAnswer(tc.path)
			if ok != tc.wantOK || latency != tc.wantLatency {
				t.Fatalf("latency %v, ok %v; want %v, %v", latency, ok, tc.wantLatency, tc.wantOK)
			}
			if !ok {
				return
			}
			s.SetLatency(0)
			s.ClearFault(upstashtest.AllDatabases)
			s.ClearFault(ordersID)
			s.ClearListDatabasesFault()
			if a := get(t, s, tc.path); a.status != 200 || a.body != string(body) {
				t.Errorf("direct body %q, Handler answers %d %q", body, a.status, a.body)
			}
		})
	}
}
