package upstash

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// generator is an endless answer made on the fly: an opening bracket, then
// entry(i) for i = 0, 1, ... separated by commas. Served through io.Copy,
// an answer of any size costs the test a few bytes.
type generator struct {
	entry   func(i int, b []byte) []byte
	pending []byte
	i       int
	started bool
}

func (g *generator) Read(p []byte) (int, error) {
	for len(g.pending) < len(p) {
		switch {
		case !g.started:
			g.pending, g.started = append(g.pending, '['), true
		default:
			if g.i > 0 {
				g.pending = append(g.pending, ',')
			}
			g.pending = g.entry(g.i, g.pending)
			g.i++
		}
	}
	n := copy(p, g.pending)
	g.pending = append(g.pending[:0], g.pending[n:]...)
	return n, nil
}

// finite is an answer of n entries made on the fly.
func finite(n int, entry func(i int, b []byte) []byte) io.Reader {
	return &boundedGenerator{g: generator{entry: entry}, n: n}
}

// boundedGenerator is a generator that ends its array after n entries.
type boundedGenerator struct {
	g    generator
	n    int
	done bool
}

func (b *boundedGenerator) Read(p []byte) (int, error) {
	if b.done && len(b.g.pending) == 0 {
		return 0, io.EOF
	}
	for !b.done && len(b.g.pending) < len(p) {
		switch {
		case !b.g.started:
			b.g.pending, b.g.started = append(b.g.pending, '['), true
		case b.g.i == b.n:
			b.g.pending, b.done = append(b.g.pending, ']'), true
		default:
			if b.g.i > 0 {
				b.g.pending = append(b.g.pending, ',')
			}
			b.g.pending = b.g.entry(b.g.i, b.g.pending)
			b.g.i++
		}
	}
	n := copy(p, b.g.pending)
	b.g.pending = append(b.g.pending[:0], b.g.pending[n:]...)
	return n, nil
}

// backupEntry is a completed daily backup with a distinct id, about 250
// bytes, as the API sends it.
func backupEntry(i int, b []byte) []byte {
	b = append(b, `{"database_id":"db1","customer_id":"ops@example.com","name":"daily-backup-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","backup_id":"00000000-0000-4000-8000-`...)
	b = strconv.AppendInt(b, 100000000000+int64(i), 10)
	b = append(b, `","creation_time":`...)
	b = strconv.AppendInt(b, 1764000000-int64(i), 10)
	b = append(b, `,"state":"completed","backup_size":`...)
	b = strconv.AppendInt(b, 1<<20+int64(i), 10)
	return append(b, `,"daily_backup":"true","hourly_backup":"false","internal_backup_tag":""}`...)
}

// shortBackupEntry is a backup with a distinct id and nothing else than
// what is kept, about 150 bytes: an answer that reaches the budget of
// entries before the body limit.
func shortBackupEntry(i int, b []byte) []byte {
	b = append(b, `{"backup_id":"00000000-0000-4000-8000-`...)
	b = strconv.AppendInt(b, 100000000000+int64(i), 10)
	b = append(b, `","creation_time":`...)
	b = strconv.AppendInt(b, 1764000000-int64(i), 10)
	return append(b, `,"state":"completed","backup_size":1048576,"daily_backup":"true"}`...)
}

// samplePeakHeap samples the bytes of heap objects (live, or dead and not
// yet swept) until the returned function is called, which returns the
// highest sample. Reading runtime/metrics does not stop the world.
func samplePeakHeap() func() uint64 {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}

const streamBytes = 200 << 20

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

// TestHostileAnswersCostBoundedMemory serves 200 MB answers, streamed
// from a generator, and measures what one ListBackups call allocates. It
// is not parallel: the memory statistics are the whole process's.
func TestHostileAnswersCostBoundedMemory(t *testing.T) {
	tests := []struct {
		name     string
		body     func() io.Reader
		wantText string
		// maxAlloc, when set, bounds the bytes allocated by the call
		// (with nothing freed, the most the heap could have grown).
		maxAlloc uint64
		// maxPeak, when set, bounds the peak of heap objects sampled
		// during the call, from before it.
		maxPeak uint64
		// slow cases are left out under the race detector, which makes
		// them take a minute and distorts what they measure.
		slow bool
	}{
		{
			name: "one endless entry",
			body: func() io.Reader {
				return io.MultiReader(strings.NewReader(`[{"name":"`), &generator{entry: func(_ int, b []byte) []byte { return append(b, "xxxxxxxx"...) }, started: true})
			},
			wantText: "too_large: response body exceeds the size limit (67108864 bytes)",
			maxAlloc: 1 << 20,
		},
		{
			name: "endless entries over 64 KiB each",
			body: func() io.Reader {
				entry := `{"name":"` + strings.Repeat("y", 70<<10) + `"}`
				return &generator{entry: func(_ int, b []byte) []byte { return append(b, entry...) }}
			},
			// 64 MiB of entries of 70 KiB: some 940 problems are kept.
			wantText: "too_large: response body exceeds the size limit (67108864 bytes)",
			maxAlloc: 2 << 20,
		},
		{
			name:     "endless distinct backups",
			body:     func() io.Reader { return &generator{entry: shortBackupEntry} },
			wantText: "too_large: answers in flight hold more than 250000 backups; this answer is not read further",
			// What the budget keeps: 251,024 backups of 40 bytes in a
			// slice grown by doubling, and their hashed ids. The
			// decoding garbage of each entry is collected as it goes.
			maxPeak: 64 << 20,
			slow:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.slow && raceEnabled {
				t.Skip("slow under the race detector")
			}
			c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.Copy(w, io.LimitReader(tt.body(), streamBytes))
			}, func(cfg *Config) { cfg.Timeout = time.Minute })
			// Warm the connection pool and the read buffers, so they are
			// not counted.
			if _, err := c.ListDatabases(t.Context()); err == nil {
				t.Fatal("the warm-up call read an endless answer")
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			stop := samplePeakHeap()
			_, err := c.ListBackups(t.Context(), "db1")
			peak := stop()
			runtime.ReadMemStats(&after)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Class != ClassTooLarge {
				t.Fatalf("error = %v, want class too_large", err)
			}
			if want := `upstash list_backup "db1": HTTP 200: ` + tt.wantText; ae.Error() != want {
				t.Errorf("error text\n got: %s\nwant: %s", ae.Error(), want)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			grown := uint64(max(int64(peak)-int64(before.HeapAlloc), 0))
			t.Logf("one call: %.1f MiB allocated, heap objects peaked %.1f MiB above the start", float64(alloc)/(1<<20), float64(grown)/(1<<20))
			if tt.maxAlloc > 0 && alloc > tt.maxAlloc {
				t.Errorf("one call allocated %d bytes, want at most %d", alloc, tt.maxAlloc)
			}
			if tt.maxPeak > 0 && grown > tt.maxPeak {
				t.Errorf("heap objects grew by %d bytes during the call, want at most %d", grown, tt.maxPeak)
			}
			if used := c.entries.used.Load(); used != 0 {
				t.Errorf("%d entries still reserved after the call", used)
			}
		})
	}
}

func TestManyBackupsDecode(t *testing.T) {
	t.Parallel()
	const n = 100_000
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.Copy(w, finite(n, backupEntry))
	}, func(cfg *Config) {
		// Some 25 MB to read: a busy machine under the race detector
		// takes several seconds.
		cfg.Timeout = 2 * time.Minute
		cfg.Now = func() time.Time { return time.Unix(1764000000, 0) }
	})
	list, err := c.ListBackups(t.Context(), "db1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Backups) != n || len(list.Problems) != 0 {
		t.Fatalf("%d backups, %d problems; want %d, 0", len(list.Backups), len(list.Problems), n)
	}
	for i, b := range list.Backups {
		want := Backup{CreationTime: 1764000000 - int64(i), State: StateCompleted, SizeBytes: 1<<20 + int64(i), DailyBackup: true}
		if b != want {
			t.Fatalf("backup %d = %+v, want %+v", i, b, want)
		}
	}
	if used := c.entries.used.Load(); used != 0 {
		t.Errorf("%d entries still reserved after the call", used)
	}
}

// TestBudgetSparesOrdinaryAnswers: when other answers in flight hold the
// whole budget, an answer of up to freeEntries entries is still read, and
// a larger one fails alone.
func TestBudgetSparesOrdinaryAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries int
		wantErr bool
	}{
		{name: "ordinary answer", entries: freeEntries},
		{name: "ordinary answer with skipped entries", entries: freeEntries / 2},
		{name: "one entry past the free ones", entries: freeEntries + 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.Copy(w, finite(tt.entries, func(i int, b []byte) []byte {
					if tt.entries < freeEntries {
						// A backup with an unreadable size: a backup
						// and a problem, two entries held.
						return append(backupEntry(i, b)[:len(backupEntry(i, b))-1], `,"backup_size":-1}`...)
					}
					return backupEntry(i, b)
				}))
			}, func(cfg *Config) { cfg.Now = func() time.Time { return time.Unix(1764000000, 0) } })
			c.entries.limit = 10
			c.entries.used.Store(10) // other answers hold everything
			list, err := c.ListBackups(t.Context(), "db1")
			if tt.wantErr {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Class != ClassTooLarge || !strings.Contains(err.Error(), "answers in flight hold more than 10 backups") {
					t.Fatalf("error = %v, want too_large for the budget", err)
				}
			} else if err != nil || len(list.Backups) != tt.entries {
				t.Fatalf("%d backups, %v; want %d", len(list.Backups), err, tt.entries)
			}
			if used := c.entries.used.Load(); used != 10 {
				t.Errorf("budget in use = %d after the call, want the 10 of the others", used)
			}
		})
	}
}

// TestCallsInFlightCostAConstantEach: 64 calls at once, each reading an
// endless entry until the body limit, allocate a few hundred KiB each
// (read buffers, the connection's own), not their bodies.
func TestCallsInFlightCostAConstantEach(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector")
	}
	const calls = 64
	var arrived atomic.Int32
	all := make(chan struct{})
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		// Stream only once every call is in flight.
		if arrived.Add(1) == calls {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		_, _ = io.Copy(w, io.LimitReader(io.MultiReader(strings.NewReader(`[{"name":"`), &generator{started: true,
			entry: func(_ int, b []byte) []byte { return append(b, "xxxxxxxx"...) }}), streamBytes))
	}, func(cfg *Config) {
		cfg.Timeout = 2 * time.Minute
		cfg.MaxResponseBytes = 4 << 20
		cfg.Concurrency = calls
	})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			_, err := c.ListBackups(t.Context(), "db"+strconv.Itoa(i))
			errs <- err
		}()
	}
	for range calls {
		var ae *APIError
		if err := <-errs; !errors.As(err, &ae) || ae.Class != ClassTooLarge {
			t.Errorf("error = %v, want class too_large", err)
		}
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d calls reading %d MiB each: %.1f MiB allocated in all, client and test server", calls, 4, float64(alloc)/(1<<20))
	if alloc > 48<<20 {
		t.Errorf("%d calls allocated %d bytes, want at most 48 MiB", calls, alloc)
	}
}
