package upstash_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// benchNow is after every generated backup, so none is skipped as future.
var benchNow = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// BenchmarkDecodeBackups is the CPU one list-backup answer costs the
// exporter once it has arrived: the tolerant decoding of its JSON. It is
// the largest part of a database's cost; scripts/bench.sh reports it per
// database beside the collector's own work.
func BenchmarkDecodeBackups(b *testing.B) {
	for _, n := range []int{20, 100} {
		b.Run(fmt.Sprintf("backups=%d", n), func(b *testing.B) {
			backups := upstashtest.GenerateBackups("00000000-0000-4000-8000-000000000000", n, benchNow.Add(-time.Hour), 24*time.Hour)
			for i := range backups {
				backups[i].CustomerID = upstashtest.DefaultEmail
			}
			body, err := json.Marshal(backups)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				list, err := upstash.DecodeBackups(body, benchNow)
				if err != nil || len(list.Backups) != n {
					b.Fatalf("decoded %d backups, %v", len(list.Backups), err)
				}
			}
		})
	}
}

// BenchmarkListBackups is one list-backup call over loopback against the
// fake API without latency: the client's whole cost per database (request,
// transport, reading and decoding), plus the in-process fake's.
func BenchmarkListBackups(b *testing.B) {
	for _, n := range []int{20, 100} {
		b.Run(fmt.Sprintf("backups=%d", n), func(b *testing.B) {
			srv := upstashtest.NewServer(upstashtest.WithRequestLogLimit(0))
			b.Cleanup(srv.Close)
			ids := srv.AddGeneratedDatabases(1, n)
			c, err := upstash.New(upstash.Config{BaseURL: srv.URL, Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey})
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				list, err := c.ListBackups(ctx, ids[0])
				if err != nil || len(list.Backups) != n {
					b.Fatalf("listed %d backups, %v", len(list.Backups), err)
				}
			}
		})
	}
}
