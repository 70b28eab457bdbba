package upstashtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleepContext(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"elapses", t.Context(), time.Nanosecond, nil},
		{"nothing to wait", t.Context(), 0, nil},
		{"ends with the context", canceled, time.Hour, context.Canceled},
		{"ended context, nothing to wait", canceled, 0, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := sleepContext(tc.ctx, tc.d); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
