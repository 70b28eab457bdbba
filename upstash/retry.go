package upstash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Retry policy. A call runs under its caller's context and ends by the
// caller's deadline: for the exporter, that of the refresh that reads the
// account (collector.DefaultRefreshTimeout, 2 minutes), not that of a
// scrape. A retry that cannot finish before that deadline only adds load,
// so:
//   - 429 waits for Retry-After when the server sends one (else a short
//     jittered backoff) and is tried once more, only if the wait ends
//     inside the caller's deadline. A Retry-After, capped at
//     Config.MaxRetryAfter, also holds back every other call to the same
//     endpoint (list_databases and list_backup apart) until it has passed
//     or a call to that endpoint succeeds: the limit is the account's,
//     not one database's, but one endpoint's limit must not blank the
//     other's;
//   - 500, 502, 503 and 504 and connection failures (reset, refused) are
//     tried once more after a jittered backoff, inside the deadline;
//   - everything else (401, 403, 404, undecodable answers, timeouts) is
//     final: trying again would give the same answer or miss the deadline.
const (
	maxRetries = 1
	// backoffBase is the middle of the jittered backoff: the wait is
	// uniformly drawn from [backoffBase/2, backoffBase*3/2).
	backoffBase = 250 * time.Millisecond
	// retryMargin is kept free after a wait for the retried call itself.
	retryMargin = 100 * time.Millisecond
)

// ClassThrottled marks a call that was not sent: its endpoint is inside a
// server's Retry-After, or the client-side rate limit would not let it go,
// before the caller's deadline.
const ClassThrottled = "throttled"

// retryDelay says whether err is worth one more attempt and after how long.
func (c *Client) retryDelay(err error, attempt int) (time.Duration, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || attempt >= maxRetries {
		return 0, false
	}
	switch {
	case ae.StatusCode == http.StatusTooManyRequests, ae.StatusCode == http.StatusInternalServerError,
		ae.StatusCode == http.StatusBadGateway, ae.StatusCode == http.StatusServiceUnavailable,
		ae.StatusCode == http.StatusGatewayTimeout:
		// get sleeps the Retry-After (already capped at MaxRetryAfter)
		// before the retry; a 429's hold on the endpoint's other calls was
		// started when the answer came.
		if ae.RetryAfter > 0 {
			return ae.RetryAfter, true
		}
		return c.backoff(), true
	case ae.StatusCode == 0 && ae.Class == ClassConnection:
		return c.backoff(), true
	}
	return 0, false
}

func (c *Client) backoff() time.Duration {
	return backoffBase/2 + rand.N(backoffBase) //nolint:gosec // jitter needs no cryptographic randomness
}

// sleepWithin waits d unless that would leave less than retryMargin before
// ctx's deadline; it reports whether it waited the whole time.
func (c *Client) sleepWithin(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(d+retryMargin).After(deadline) {
		return false
	}
	return c.sleep(ctx, d) == nil
}

// holdUntil holds back the calls to endpoint until t, or later if a hold
// already runs longer.
func (c *Client) holdUntil(endpoint string, t time.Time) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if !t.After(c.holds[endpoint]) {
		return
	}
	c.holds[endpoint] = t
	if c.observeHold != nil {
		c.observeHold(endpoint, t)
	}
}

// clearHold ends endpoint's hold: the endpoint answered.
func (c *Client) clearHold(endpoint string) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	c.endHoldLocked(endpoint)
}

func (c *Client) endHoldLocked(endpoint string) {
	if _, held := c.holds[endpoint]; !held {
		return
	}
	delete(c.holds, endpoint)
	if c.observeHold != nil {
		c.observeHold(endpoint, time.Time{})
	}
}

// heldFor returns how long endpoint is still held back; a hold found over
// is ended.
func (c *Client) heldFor(endpoint string) time.Duration {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	until, held := c.holds[endpoint]
	if !held {
		return 0
	}
	wait := until.Sub(c.now())
	if wait <= 0 {
		c.endHoldLocked(endpoint)
		return 0
	}
	return wait
}

// throttle waits, inside ctx's deadline, for a pending Retry-After of the
// endpoint and for the client-side rate limit. A call that could not go
// before the caller's deadline is not sent.
func (c *Client) throttle(ctx context.Context, endpoint, databaseID string) error {
	if wait := c.heldFor(endpoint); wait > 0 {
		if !c.sleepWithin(ctx, wait) {
			why := "which ends after the caller's deadline (the refresh's)"
			if err := ctx.Err(); err != nil {
				why = "and the call was ended while waiting: " + err.Error()
			}
			return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassThrottled,
				Err: fmt.Errorf("the API asked to wait %s more before calling %s again (Retry-After, at most %s), %s",
					wait.Round(time.Millisecond), endpoint, c.maxRetryAfter, why)}
		}
		_ = c.heldFor(endpoint) // ends the hold if it is over
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassThrottled,
				Err: fmt.Errorf("client-side rate limit of %g requests per second, before the caller's deadline (the refresh's): %w", float64(c.limiter.Limit()), err)}
		}
	}
	return nil
}

// newLimiter returns nil for "unlimited". The burst of one keeps calls
// evenly spaced, which is what a server-side limit rewards.
func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), 1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads delta-seconds or an HTTP date, capped at limit;
// 0 when absent, unreadable or already past.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		switch {
		case secs <= 0:
			return 0
		case err != nil || secs > int64(limit/time.Second):
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, limit)
}
