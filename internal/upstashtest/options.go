package upstashtest

import (
	"context"
	"time"
)

// Credentials a Server accepts when WithCredentials is not given. They are
// fake: the fake never talks to Upstash.
const (
	DefaultEmail  = "fake-account@example.com"
	DefaultAPIKey = "fake-developer-api-key-0000"
)

// Option configures a Server at construction.
type Option func(*options)

type options struct {
	email  string
	apiKey string
	clock  func() time.Time
	// sleep is nil for the server's own timer.
	sleep    func(context.Context, time.Duration) error
	logLimit int
	demo     bool
}

func defaultOptions() options {
	return options{
		email:    DefaultEmail,
		apiKey:   DefaultAPIKey,
		clock:    time.Now,
		logLimit: -1,
	}
}

// WithCredentials sets the account e-mail and Developer API key the server
// accepts as HTTP Basic user and password. The e-mail is also the customer_id
// of every backup whose CustomerID is empty, as in real answers.
func WithCredentials(email, apiKey string) Option {
	return func(o *options) { o.email, o.apiKey = email, apiKey }
}

// WithClock sets the clock read for request log times, generated backups
// and clock-driven backup lists (SetBackupsFunc, the demo cast), so tests
// move time instead of waiting for it. A nil clock keeps time.Now.
func WithClock(clock func() time.Time) Option {
	return func(o *options) {
		if clock != nil {
			o.clock = clock
		}
	}
}

// WithSleep replaces how the server waits for latency and between the bytes
// of a trickled body. sleep must return early with a non-nil error when ctx
// ends. Tests use it to observe the waits the server makes without timing
// them; the default uses a timer and never busy-waits.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) {
		if sleep != nil {
			o.sleep = sleep
		}
	}
}

// WithRequestLogLimit keeps only the newest n requests in the log returned by
// Requests; 0 keeps none. RequestCount still counts every request. Long runs
// (the demo, benchmarks) use it so the log does not grow without bound; by
// default the log keeps everything.
func WithRequestLogLimit(n int) Option {
	return func(o *options) { o.logLimit = max(n, 0) }
}
