package upstashtest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestWait covers the server's own timer, which a WithSleep hook replaces:
// it ends early with the request's context and with Close, and a timer
// taken back from an ended wait does not fire early in the next one.
func TestWait(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	closed := New()
	closed.Close()
	for _, tc := range []struct {
		name string
		s    *Server
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"elapses", New(), t.Context(), time.Nanosecond, nil},
		{"nothing to wait", New(), t.Context(), 0, nil},
		{"ends with the request", New(), canceled, time.Hour, context.Canceled},
		{"ended request, nothing to wait", New(), canceled, 0, nil},
		{"ends with Close", closed, t.Context(), time.Hour, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := http.NewRequestWithContext(tc.ctx, http.MethodGet, "/", nil)
			if err := tc.s.wait(r, tc.d); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("reused timer", func(t *testing.T) {
		r, _ := http.NewRequestWithContext(canceled, http.MethodGet, "/", nil)
		s := New()
		for range 10 {
			_ = s.wait(r, time.Nanosecond) // leaves timers that may have fired
		}
		r, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		start := time.Now()
		if err := s.wait(r, 20*time.Millisecond); err != nil || time.Since(start) < 20*time.Millisecond {
			t.Errorf("waited %v, %v; want 20ms", time.Since(start), err)
		}
	})
}
