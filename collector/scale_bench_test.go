package collector

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// These benchmarks measure the scale targets of the README's "Scaling"
// section. They report numbers (b.ReportMetric); scripts/bench.sh reads the
// numbers and judges them. Nothing here asserts a duration.
//
// The fake API runs in this process over loopback. Its latency is a timer
// per list-backup call (upstashtest.Fault.Latency), never a busy wait, so a
// collection's wall time can be compared with the floor ceil(N/C) x L that
// any client reaches at concurrency C.
//
// Knobs, read from the environment so the script can pick the short or the
// full run without a rebuild:
//
//	UPSTASH_BENCH_CASES      N:C pairs, e.g. "1:8,10:8,100:8,1000:8,5000:8"
//	UPSTASH_BENCH_LATENCY    list-backup latency L, e.g. "50ms"
//	UPSTASH_BENCH_SCRAPERS_N databases for the K=10 scrapes case
//	UPSTASH_BENCH_HEAP_N     databases for the heap measurement (100 backups each)
//	UPSTASH_BENCH_GROWTH     collections in the heap growth measurement

const (
	benchBackupsWall = 20  // backups per database in the wall time cases
	benchBackupsCPU  = 100 // backups per database in the CPU and heap cases
)

func benchEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func benchEnvInt(b *testing.B, name string, def int) int {
	v, err := strconv.Atoi(benchEnv(name, strconv.Itoa(def)))
	if err != nil || v < 1 {
		b.Fatalf("%s: want a positive integer, got %q", name, os.Getenv(name))
	}
	return v
}

func benchLatency(b *testing.B) time.Duration {
	d, err := time.ParseDuration(benchEnv("UPSTASH_BENCH_LATENCY", "50ms"))
	if err != nil || d < 0 {
		b.Fatalf("UPSTASH_BENCH_LATENCY: %v", err)
	}
	return d
}

type benchCase struct{ n, c int }

func benchCases(b *testing.B) []benchCase {
	var cases []benchCase
	for _, pair := range strings.Split(benchEnv("UPSTASH_BENCH_CASES", "1:8,10:8,100:8,1000:8,5000:8,1000:64,5000:64"), ",") {
		n, c, ok := strings.Cut(strings.TrimSpace(pair), ":")
		ni, err1 := strconv.Atoi(n)
		ci, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || ni < 1 || ci < 1 {
			b.Fatalf("UPSTASH_BENCH_CASES: bad pair %q", pair)
		}
		cases = append(cases, benchCase{ni, ci})
	}
	return cases
}

// benchFake starts the fake API with n generated databases of backups
// backups each, list-backup answering after latency.
func benchFake(b *testing.B, n, backups int, latency time.Duration) *upstashtest.Server {
	b.Helper()
	srv := upstashtest.NewServer(upstashtest.WithRequestLogLimit(0))
	b.Cleanup(srv.Close)
	srv.AddGeneratedDatabases(n, backups)
	if latency > 0 {
		srv.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Latency: latency})
	}
	return srv
}

// benchCollector watches every database of the fake through the real
// client, as main builds it.
func benchCollector(b *testing.B, srv *upstashtest.Server, opts Options) *Collector {
	b.Helper()
	cfg := []config.Account{
		{Name: "bench", Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey, APIURL: srv.URL},
	}
	newAPI := func(a config.Account) (API, error) {
		return upstash.New(upstash.Config{
			BaseURL:     a.APIURL,
			Email:       a.Email,
			APIKey:      string(a.APIKey),
			Timeout:     time.Minute,
			Concurrency: opts.Concurrency,
		})
	}
	if opts.RefreshTimeout == 0 {
		opts.RefreshTimeout = 10 * time.Minute
	}
	c, err := New(cfg, newAPI, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close) // before srv.Close: cleanups run last in, first out
	return c
}

// collectAll runs one collection, drains its metrics and returns how many
// there were.
func collectAll(ctx context.Context, c *Collector) int {
	ch := make(chan prometheus.Metric, 1024)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	c.Refresh(ctx).Collect(ch)
	close(ch)
	return <-done
}

// heapAfterGC is the live heap once garbage is collected.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

const mib = 1 << 20

// BenchmarkScaleWall is one collection of N databases at concurrency C
// against the fake answering each list-backup after L. It reports the wall
// time, the floor ceil(N/C) x L, the API calls per collection, the
// allocations per database (client and in-process fake together) and the
// heap the collector keeps.
func BenchmarkScaleWall(b *testing.B) {
	latency := benchLatency(b)
	for _, bc := range benchCases(b) {
		b.Run(fmt.Sprintf("N=%d/C=%d", bc.n, bc.c), func(b *testing.B) {
			srv := benchFake(b, bc.n, benchBackupsWall, latency)
			base := heapAfterGC()
			c := benchCollector(b, srv, Options{Concurrency: bc.c})
			ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
			defer cancel()

			var wall time.Duration
			var allocs uint64
			collections := 0
			srv.ResetRequests()
			for b.Loop() {
				m0 := mallocs()
				start := time.Now()
				collectAll(ctx, c)
				wall += time.Since(start)
				allocs += mallocs() - m0
				collections++
			}
			backupCalls := srv.RequestCount(upstash.EndpointListBackup)
			listCalls := srv.RequestCount(upstash.EndpointListDatabases)
			heap := heapAfterGC()

			floor := time.Duration(math.Ceil(float64(bc.n)/float64(bc.c))) * latency
			perRun := float64(collections)
			b.ReportMetric(float64(wall.Microseconds())/1e3/perRun, "wall-ms")
			b.ReportMetric(float64(floor.Microseconds())/1e3, "floor-ms")
			b.ReportMetric(float64(backupCalls)/perRun, "list-backup/op")
			b.ReportMetric(float64(listCalls)/perRun, "list-db/op")
			b.ReportMetric(float64(allocs)/perRun/float64(bc.n), "allocs/db")
			b.ReportMetric(float64(int64(heap)-int64(base))/mib, "heap-MiB")
		})
	}
}

// BenchmarkScaleScrapers is K=10 scrapes arriving together, as from several
// Prometheus servers: they share one refresh, so the API sees one
// list-backup call per database and one list-databases call.
func BenchmarkScaleScrapers(b *testing.B) {
	const scrapers, concurrency = 10, DefaultConcurrency
	n := benchEnvInt(b, "UPSTASH_BENCH_SCRAPERS_N", 1000)
	b.Run(fmt.Sprintf("K=%d/N=%d/C=%d", scrapers, n, concurrency), func(b *testing.B) {
		srv := benchFake(b, n, benchBackupsWall, benchLatency(b))
		c := benchCollector(b, srv, Options{Concurrency: concurrency})
		ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
		defer cancel()

		rounds := 0
		srv.ResetRequests()
		for b.Loop() {
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range scrapers {
				wg.Go(func() {
					<-start
					collectAll(ctx, c)
				})
			}
			close(start)
			wg.Wait()
			rounds++
		}
		b.ReportMetric(float64(n), "databases")
		b.ReportMetric(float64(srv.RequestCount(upstash.EndpointListBackup))/float64(rounds), "list-backup/op")
		b.ReportMetric(float64(srv.RequestCount(upstash.EndpointListDatabases))/float64(rounds), "list-db/op")
	})
}

// BenchmarkScaleCacheTTL is an HA pair, and then ten scrapers, each
// scraping every 30 s at its own offset, against --upstash.cache-ttl=60s,
// over simulated time. It reports the list-backup calls per database and
// the list-databases calls per TTL window: both should be one.
func BenchmarkScaleCacheTTL(b *testing.B) {
	const (
		n        = 1000
		ttl      = time.Minute
		interval = 30 * time.Second
		windows  = 4
	)
	for _, scrapers := range []int{2, 10} {
		b.Run(fmt.Sprintf("scrapers=%d/N=%d/ttl=%s/interval=%s", scrapers, n, ttl, interval), func(b *testing.B) {
			// One backup each: the calls are counted here, not their cost.
			srv := benchFake(b, n, 1, 0)
			clk := newClock(t0)
			c := benchCollector(b, srv, Options{CacheTTL: ttl, Now: clk.now})
			ctx := b.Context()

			var backupCalls, listCalls float64
			for b.Loop() {
				srv.ResetRequests()
				// Each scraper scrapes at its own offset inside the
				// interval, as unsynchronised Prometheus servers do.
				step := interval / time.Duration(scrapers)
				for tick := time.Duration(0); tick < windows*ttl; tick += step {
					clk.add(step)
					collectAll(ctx, c)
				}
				backupCalls += float64(srv.RequestCount(upstash.EndpointListBackup))
				listCalls += float64(srv.RequestCount(upstash.EndpointListDatabases))
			}
			per := float64(b.N * windows)
			b.ReportMetric(float64(scrapers), "scrapers")
			b.ReportMetric(backupCalls/per/n, "list-backup/db/ttl")
			b.ReportMetric(listCalls/per, "list-db/ttl")
		})
	}
}

// BenchmarkScaleCPU is the collector's own work for N=1,000 databases of
// 100 backups through an in-memory API: planning, ComputeStats, the state
// updates and every metric. Network and JSON decoding are excluded (the
// upstash package's BenchmarkDecodeBackups measures decoding).
func BenchmarkScaleCPU(b *testing.B) {
	const n = 1000
	b.Run(fmt.Sprintf("N=%d/backups=%d", n, benchBackupsCPU), func(b *testing.B) {
		api := newStub()
		for i := range n {
			id := upstashtest.GeneratedDatabaseID(i)
			api.databases = append(api.databases, db(id, "generated-"+strconv.Itoa(i), "pro", true))
			backups := make([]upstash.Backup, benchBackupsCPU)
			for j := range backups {
				backups[j] = upstash.Backup{
					CreationTime: t0.Add(-time.Duration(j) * 24 * time.Hour).Unix(),
					State:        completed,
					SizeBytes:    64<<20 + int64(j)<<16,
					DailyBackup:  true,
				}
			}
			api.backups[id] = upstash.BackupList{Backups: backups}
		}
		c, err := New(oneAccount(), stubs(map[string]*stubAPI{"a": api}), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			collectAll(ctx, c)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/db")
	})
}

// BenchmarkScaleHeap is the heap the exporter keeps after one collection of
// N databases of 100 backups (default 5,000), through the real client. The
// in-process fake's own data (about 150 MiB of encoded answers at 5,000)
// is measured before the collector exists and subtracted. It also reports
// the bytes allocated per collection, client and fake together: garbage the
// GC must clear, not memory held.
func BenchmarkScaleHeap(b *testing.B) {
	n := benchEnvInt(b, "UPSTASH_BENCH_HEAP_N", 5000)
	b.Run(fmt.Sprintf("N=%d/backups=%d", n, benchBackupsCPU), func(b *testing.B) {
		srv := benchFake(b, n, benchBackupsCPU, 0)
		base := heapAfterGC()
		c := benchCollector(b, srv, Options{Concurrency: DefaultConcurrency})
		ctx := b.Context()
		var allocated uint64
		for b.Loop() {
			a0 := totalAlloc()
			collectAll(ctx, c)
			allocated += totalAlloc() - a0
		}
		b.ReportMetric(float64(int64(heapAfterGC())-int64(base))/mib, "heap-MiB")
		b.ReportMetric(float64(allocated)/float64(b.N)/mib, "alloc-MiB/op")
	})
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// BenchmarkScaleGrowth repeats collections of 100 databases of 20 backups
// through the real client and reports the live heap and goroutines after
// the 10th and after the last collection: a leak shows as growth.
func BenchmarkScaleGrowth(b *testing.B) {
	const n = 100
	collections := benchEnvInt(b, "UPSTASH_BENCH_GROWTH", 1000)
	b.Run(fmt.Sprintf("collections=%d/N=%d/backups=%d", collections, n, benchBackupsWall), func(b *testing.B) {
		srv := benchFake(b, n, benchBackupsWall, 0)
		c := benchCollector(b, srv, Options{Concurrency: DefaultConcurrency})
		ctx := b.Context()
		const settle = 10
		var heapSettled, heapLast uint64
		var goroutinesSettled, goroutinesLast int
		for b.Loop() {
			for i := range collections {
				collectAll(ctx, c)
				if i == settle-1 {
					heapSettled, goroutinesSettled = heapAfterGC(), runtime.NumGoroutine()
				}
			}
			heapLast, goroutinesLast = heapAfterGC(), runtime.NumGoroutine()
		}
		b.ReportMetric(float64(heapSettled)/mib, "heap-after-10-MiB")
		b.ReportMetric(float64(heapLast)/mib, "heap-after-last-MiB")
		b.ReportMetric(float64(int64(heapLast)-int64(heapSettled))/mib, "growth-MiB")
		b.ReportMetric(float64(goroutinesLast-goroutinesSettled), "goroutine-growth")
	})
}
