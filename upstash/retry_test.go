package upstash

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTime is a clock that moves only when the client sleeps, so retry
// waits are checked without real waiting.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return nil
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		answers    []int // status per call; the last one repeats
		retryAfter string
		deadline   time.Duration // from start on the fake clock
		wantCalls  int
		wantErr    bool
		wantSleeps []time.Duration // exact, or nil to only count them
		wantSleepN int
	}{
		{name: "429 with Retry-After inside the deadline", answers: []int{429, 200}, retryAfter: "3", deadline: 10 * time.Second, wantCalls: 2, wantSleeps: []time.Duration{3 * time.Second}},
		{name: "429 with Retry-After past the deadline", answers: []int{429}, retryAfter: "30", deadline: 10 * time.Second, wantCalls: 1, wantErr: true, wantSleeps: []time.Duration{}},
		{name: "429 without Retry-After backs off once", answers: []int{429}, deadline: 10 * time.Second, wantCalls: 2, wantErr: true, wantSleepN: 1},
		{name: "500 then success", answers: []int{500, 200}, deadline: 10 * time.Second, wantCalls: 2, wantSleepN: 1},
		{name: "503 twice gives up after one retry", answers: []int{503}, deadline: 10 * time.Second, wantCalls: 2, wantErr: true, wantSleepN: 1},
		{name: "500 with no time left is not retried", answers: []int{500}, deadline: 50 * time.Millisecond, wantCalls: 1, wantErr: true, wantSleeps: []time.Duration{}},
		{name: "401 is final", answers: []int{401}, deadline: 10 * time.Second, wantCalls: 1, wantErr: true, wantSleeps: []time.Duration{}},
		{name: "404 is final", answers: []int{404}, deadline: 10 * time.Second, wantCalls: 1, wantErr: true, wantSleeps: []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeTime{now: start}
			var calls atomic.Int32
			c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				n := int(calls.Add(1)) - 1
				status := tt.answers[min(n, len(tt.answers)-1)]
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(status)
				if status == 200 {
					_, _ = w.Write([]byte("[]"))
				}
			}, func(cfg *Config) { cfg.Now, cfg.Sleep = clock.Now, clock.Sleep })
			// The deadline is on the fake clock: the real context only
			// needs to outlive the test's HTTP calls.
			ctx := deadlineOverride{t.Context(), start.Add(tt.deadline)}
			_, err := c.ListBackups(ctx, "db1")
			if (err != nil) != tt.wantErr {
				t.Errorf("error = %v, want error: %v", err, tt.wantErr)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			clock.mu.Lock()
			defer clock.mu.Unlock()
			switch {
			case tt.wantSleeps != nil:
				if len(clock.sleeps) != len(tt.wantSleeps) {
					t.Fatalf("sleeps = %v, want %v", clock.sleeps, tt.wantSleeps)
				}
				for i := range tt.wantSleeps {
					if clock.sleeps[i] != tt.wantSleeps[i] {
						t.Errorf("sleeps = %v, want %v", clock.sleeps, tt.wantSleeps)
					}
				}
			default:
				if len(clock.sleeps) != tt.wantSleepN {
					t.Errorf("sleeps = %v, want %d", clock.sleeps, tt.wantSleepN)
				}
				for _, d := range clock.sleeps {
					if d < backoffBase/2 || d >= backoffBase*3/2 {
						t.Errorf("backoff %s outside [%s, %s)", d, backoffBase/2, backoffBase*3/2)
					}
				}
			}
		})
	}
}

// deadlineOverride reports a deadline on the fake clock while the real
// context stays alive for the test's HTTP calls.
type deadlineOverride struct {
	context.Context
	deadline time.Time
}

func (d deadlineOverride) Deadline() (time.Time, bool) { return d.deadline, true }

func TestRetryAfterHoldsBackOtherCalls(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := &fakeTime{now: start}
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusTooManyRequests)
	}, func(cfg *Config) { cfg.Now, cfg.Sleep = clock.Now, clock.Sleep })

	// First call: 429 with a Retry-After past the deadline, so no retry,
	// but the client now holds every list_backup call for 20 s.
	ctx := deadlineOverride{t.Context(), start.Add(5 * time.Second)}
	if _, err := c.ListBackups(ctx, "db1"); err == nil {
		t.Fatal("want the 429 error")
	}
	_, err := c.ListBackups(ctx, "db2")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Class != ClassThrottled {
		t.Fatalf("second call error = %v, want a throttled error", err)
	}
	if ae.Code() != CodeError {
		t.Errorf("throttled code = %s", ae.Code())
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("calls = %d, want 1: a held call must not reach the API", got)
	}
	// With a deadline past the hold, the call waits and goes.
	ctx = deadlineOverride{t.Context(), start.Add(time.Minute)}
	_, _ = c.ListBackups(ctx, "db3")
	if got := calls.Load(); got < 2 {
		t.Errorf("calls = %d: the call after the hold was not made", got)
	}
}

func TestRateLimitNeverWaitsPastTheDeadline(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte("[]"))
	}, func(cfg *Config) { cfg.MaxRequestsPerSecond = 0.001 })
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := c.ListBackups(ctx, "db1"); err != nil {
		t.Fatalf("first call within the burst: %v", err)
	}
	_, err := c.ListBackups(ctx, "db2")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Class != ClassThrottled {
		t.Fatalf("second call error = %v, want throttled", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", calls.Load())
	}
}

// holdLog records the calls of Config.ObserveHold.
type holdLog struct {
	mu  sync.Mutex
	got []holdEvent
}

type holdEvent struct {
	endpoint string
	until    time.Time
}

func (h *holdLog) observe(endpoint string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, holdEvent{endpoint, until})
}

func (h *holdLog) events() []holdEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]holdEvent(nil), h.got...)
}

// TestRetryAfterHoldsOneEndpointBriefly: a day's Retry-After on
// list_databases holds list_databases for MaxRetryAfter at most, never
// list_backup, and the hold ends when it has passed.
func TestRetryAfterHoldsOneEndpointBriefly(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const maxHold = 5 * time.Minute
	tests := []struct {
		name       string
		retryAfter string
	}{
		{name: "a day in seconds", retryAfter: "86400"},
		{name: "a date a day ahead", retryAfter: start.Add(24 * time.Hour).Format(http.TimeFormat)},
		{name: "a date years ahead", retryAfter: start.AddDate(100, 0, 0).Format(http.TimeFormat)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeTime{now: start}
			holds := &holdLog{}
			var listCalls, backupCalls atomic.Int32
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/redis/databases" {
					if listCalls.Add(1) == 1 {
						w.Header().Set("Retry-After", tt.retryAfter)
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
				} else {
					backupCalls.Add(1)
				}
				_, _ = w.Write([]byte("[]"))
			}, func(cfg *Config) {
				cfg.Now, cfg.Sleep = clock.Now, clock.Sleep
				cfg.MaxRetryAfter, cfg.ObserveHold = maxHold, holds.observe
			})
			soon := deadlineOverride{t.Context(), start.Add(10 * time.Second)}

			// The 429 is not retried: the hold ends past the deadline.
			_, err := c.ListDatabases(soon)
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.RetryAfter != maxHold {
				t.Fatalf("first call: %v, want the 429 with a Retry-After of %s", err, maxHold)
			}
			want := []holdEvent{{EndpointListDatabases, start.Add(maxHold)}}
			if got := holds.events(); !reflect.DeepEqual(got, want) {
				t.Errorf("holds = %v, want %v", got, want)
			}
			// list_backup is not held.
			if _, err := c.ListBackups(soon, "db1"); err != nil || backupCalls.Load() != 1 {
				t.Errorf("list_backup during the hold: %v, %d calls", err, backupCalls.Load())
			}
			// list_databases is, and is not sent.
			if _, err := c.ListDatabases(soon); !errors.As(err, &ae) || ae.Class != ClassThrottled ||
				!strings.Contains(err.Error(), "after the caller's deadline (the refresh's)") {
				t.Errorf("list_databases during the hold: %v, want throttled", err)
			}
			if n := listCalls.Load(); n != 1 {
				t.Errorf("list_databases sent %d times, want 1", n)
			}
			// A caller with time to wait waits MaxRetryAfter, not a day.
			later := deadlineOverride{t.Context(), start.Add(time.Hour)}
			if _, err := c.ListDatabases(later); err != nil {
				t.Fatalf("after the hold: %v", err)
			}
			if got := clock.Now().Sub(start); got != maxHold {
				t.Errorf("waited %s, want %s", got, maxHold)
			}
			want = append(want, holdEvent{EndpointListDatabases, time.Time{}})
			if got := holds.events(); !reflect.DeepEqual(got, want) {
				t.Errorf("holds = %v, want %v", got, want)
			}
		})
	}
}

// TestSuccessClearsTheHold: a call sent before a 429 started the hold and
// answered after it ends the hold of its endpoint.
func TestSuccessClearsTheHold(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := &fakeTime{now: start}
	holds := &holdLog{}
	arrived, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		switch calls.Add(1) {
		case 1: // answered once the second has started the hold
			close(arrived)
			<-release
		case 2:
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}, func(cfg *Config) { cfg.Now, cfg.Sleep, cfg.ObserveHold = clock.Now, clock.Sleep, holds.observe })
	soon := deadlineOverride{t.Context(), start.Add(10 * time.Second)}

	first := make(chan error, 1)
	go func() {
		_, err := c.ListBackups(soon, "db1")
		first <- err
	}()
	<-arrived
	if _, err := c.ListBackups(soon, "db2"); err == nil {
		t.Fatal("second call: want the 429")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	want := []holdEvent{{EndpointListBackup, start.Add(time.Minute)}, {EndpointListBackup, time.Time{}}}
	if got := holds.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("holds = %v, want %v", got, want)
	}
	// Nothing holds list_backup any more: the next call goes at once.
	if _, err := c.ListBackups(soon, "db3"); err != nil || calls.Load() != 3 {
		t.Errorf("call after the success: %v, %d calls", err, calls.Load())
	}
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if len(clock.sleeps) != 0 {
		t.Errorf("waited %v, want no wait", clock.sleeps)
	}
}
