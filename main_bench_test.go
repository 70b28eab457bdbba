package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// BenchmarkMetricsRender is /metrics for N databases (default 5,000,
// UPSTASH_BENCH_RENDER_N) through the exporter's own handler, with the
// cache filled by a first scrape and --upstash.cache-ttl long enough that
// the measured scrapes make no API call: what is left is building the
// series, gathering and encoding them. It reports the body size with and
// without gzip; scripts/bench.sh prints them.
func BenchmarkMetricsRender(b *testing.B) {
	n := 5000
	if v := os.Getenv("UPSTASH_BENCH_RENDER_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("UPSTASH_BENCH_RENDER_N=%q", v)
		}
	}
	srv := upstashtest.NewServer(upstashtest.WithRequestLogLimit(0))
	b.Cleanup(srv.Close)
	srv.AddGeneratedDatabases(n, 20)
	cfgFile := filepath.Join(b.TempDir(), "config.yml")
	cfg := fmt.Sprintf("accounts:\n  - name: bench\n    email: %s\n    api_key: %s\n    api_url: %s\n",
		upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, srv.URL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	e, err := newExporter(options{
		configFile:    cfgFile,
		telemetryPath: "/metrics",
		apiTimeout:    time.Minute,
		concurrency:   64,
		cacheTTL:      time.Hour,
		timeoutOffset: 500 * time.Millisecond,
	}, slog.New(slog.DiscardHandler), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.collector.Close)
	handler := e.routes()

	scrape := func(gzip bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "120")
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		return rec
	}
	scrape(false) // fills the cache
	if got := srv.RequestCount(upstash.EndpointListBackup); got != n {
		b.Fatalf("first scrape made %d list-backup calls, want %d", got, n)
	}

	for _, gzip := range []bool{false, true} {
		name := "identity"
		if gzip {
			name = "gzip"
		}
		b.Run(fmt.Sprintf("N=%d/%s", n, name), func(b *testing.B) {
			srv.ResetRequests()
			var size int
			cpu := processCPU()
			for b.Loop() {
				rec := scrape(gzip)
				size = rec.Body.Len()
				if enc := rec.Header().Get("Content-Encoding"); gzip != (enc == "gzip") {
					b.Fatalf("Content-Encoding %q with gzip=%v", enc, gzip)
				}
			}
			// Process CPU, the garbage collector's included, which ns/op
			// misses on a busy machine.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/float64(n), "cpu-ns/db")
			b.ReportMetric(float64(size), "body-bytes")
			b.ReportMetric(float64(srv.RequestCount(upstash.EndpointListBackup)+srv.RequestCount(upstash.EndpointListDatabases))/float64(b.N), "api-calls/op")
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
