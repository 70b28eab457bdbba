package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

const (
	loadScrapes   = 200
	loadDatabases = 500
	loadBackups   = 10
)

// TestLoad sends 200 concurrent scrapes to an exporter watching 500
// databases, twice. The API's list-databases call is held until every
// scrape is inside the handler, so all of them arrive while one refresh is
// in flight: they must share it, every scrape must answer 200 with every
// database read, and the second round must not keep more memory than the
// first.
//
// Not parallel: its memory figures would include other tests', and under
// -race its peak (gigabytes of shadow memory) should not add to theirs.
func TestLoad(t *testing.T) {
	var gate atomic.Pointer[chan struct{}]
	fake := upstashtest.NewServer(
		upstashtest.WithRequestLogLimit(0),
		upstashtest.WithSleep(func(ctx context.Context, _ time.Duration) error {
			select {
			case <-*gate.Load():
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	t.Cleanup(fake.Close)
	fake.AddGeneratedDatabases(loadDatabases, loadBackups)
	// The only latency of the run: list-databases waits for the gate.
	fake.SetListDatabasesFault(upstashtest.Fault{Latency: time.Nanosecond})

	path := filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, path, accountConfig(t, "load", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake))
	logs := newLogBuffer()
	o := exporterOptions(path)
	o.logLevel = "info"
	e, err := newExporter(o, newLogger(logs, o.logLevel, o.logFormat), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var entered sync.WaitGroup
	handler := e.routes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		handler.ServeHTTP(w, r)
	}))
	// Uncompressed, so that the test measures the exporter rather than gzip.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadScrapes, DisableCompression: true}}
	t.Cleanup(func() {
		e.collector.Close()
		srv.Close()
		client.CloseIdleConnections()
	})
	te := &testExporter{exporter: e, url: srv.URL, logs: logs, cfg: path, client: client}

	var ms runtime.MemStats
	heap := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	heapBefore := heap()
	allocBefore, sysBefore := ms.TotalAlloc, ms.Sys

	var retained [2]uint64
	for round := range 2 {
		fake.ResetRequests()
		release := make(chan struct{})
		gate.Store(&release)
		entered.Add(loadScrapes)

		results := make(chan loadResult, loadScrapes)
		for range loadScrapes {
			go func() { results <- loadScrape(te, 5*time.Minute) }() // a bound, not an expectation
		}
		allIn := make(chan struct{})
		go func() { entered.Wait(); close(allIn) }()
		select {
		case <-allIn:
		case <-t.Context().Done():
			t.Fatal("the scrapes never all arrived")
		}
		close(release)

		var first string
		for range loadScrapes {
			r := <-results
			if r.err != nil || r.code != http.StatusOK {
				t.Fatalf("round %d: scrape answered %d %v", round, r.code, r.err)
			}
			if r.read != loadDatabases {
				t.Fatalf("round %d: a scrape shows %d databases read, want %d", round, r.read, loadDatabases)
			}
			if first == "" {
				first = r.digest
			} else if r.digest != first {
				t.Fatalf("round %d: scrapes of the same refresh show different database series", round)
			}
		}

		// One refresh served every scrape: each database read once.
		refreshes := fake.RequestCount(upstash.EndpointListDatabases)
		backupCalls := fake.RequestCount(upstash.EndpointListBackup)
		if refreshes != 1 || backupCalls != loadDatabases {
			t.Errorf("round %d: %d scrapes made %d list-databases and %d list-backup calls, want 1 and %d",
				round, loadScrapes, refreshes, backupCalls, loadDatabases)
		}
		retained[round] = heap()
	}

	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged under load:\n%.2000s", logs)
	}
	// What the exporter keeps must not grow with the scrapes it serves.
	const slack = 16 << 20
	if retained[1] > retained[0]+slack {
		t.Errorf("retained heap grew from %d MiB after the first %d scrapes to %d MiB after the next %d",
			retained[0]>>20, loadScrapes, retained[1]>>20, loadScrapes)
	}
	t.Logf("%d databases, %d concurrent scrapes x 2 rounds: heap before %s, after round 1 %s, after round 2 %s; allocated %s in all (%s a scrape); runtime memory from the OS grew by %s",
		loadDatabases, loadScrapes, mib(heapBefore), mib(retained[0]), mib(retained[1]),
		mib(ms.TotalAlloc-allocBefore), mib((ms.TotalAlloc-allocBefore)/(2*loadScrapes)), mib(ms.Sys-sysBefore))
}

type loadResult struct {
	code int
	// digest is a hash of the per-database series, which every scrape of
	// one refresh must show alike; read counts databases with
	// collect_success 1.
	digest string
	read   int
	err    error
}

// loadScrape scrapes like tryScrape, but reads the answer as a stream so
// that the test's own memory stays out of the figures.
func loadScrape(te *testExporter, timeout time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, te.url+"/metrics", nil)
	if err != nil {
		return loadResult{err: err}
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.Itoa(int(timeout.Seconds())))
	resp, err := te.client.Do(req)
	if err != nil {
		return loadResult{err: err}
	}
	defer resp.Body.Close()
	r := loadResult{code: resp.StatusCode}
	h := sha256.New()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("upstash_redis_")) || bytes.HasPrefix(line, []byte("upstash_backup_exporter_collect_success")) ||
			bytes.HasPrefix(line, []byte("upstash_backup_exporter_last_collect_success")) {
			h.Write(line)
		}
		if bytes.HasPrefix(line, []byte("upstash_backup_exporter_collect_success{")) && bytes.HasSuffix(line, []byte("} 1")) {
			r.read++
		}
	}
	r.err = sc.Err()
	r.digest = hex.EncodeToString(h.Sum(nil))
	return r
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
