package upstash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// Retry policy. A scrape has a deadline, and a retry that cannot finish
// before it only adds load, so:
//   - 429 waits for Retry-After when the server sends one (else a short
//     jittered backoff) and is tried once more, only if the wait ends
//     inside the caller's deadline. A Retry-After also holds back every
//     other call of this client until it has passed: the limit is the
//     account's, not one database's;
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

// ClassThrottled marks a call that was not sent: the account is inside a
// server's Retry-After, or the client-side rate limit would not let it go
// before the caller's deadline.
const ClassThrottled = "throttled"

// retryDelay says whether err is worth one more attempt and after how long.
func (c *Client) retryDelay(err error, attempt int) (time.Duration, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || attempt >= maxRetries {
		return 0, false
	}
	switch {
	case ae.StatusCode == http.StatusTooManyRequests:
		if ae.RetryAfter > 0 {
			c.holdUntil(c.now().Add(ae.RetryAfter))
			return ae.RetryAfter, true
		}
		return c.backoff(), true
	case ae.StatusCode == http.StatusInternalServerError, ae.StatusCode == http.StatusBadGateway,
		ae.StatusCode == http.StatusServiceUnavailable, ae.StatusCode == http.StatusGatewayTimeout:
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

// holdUntil records a server-requested pause for every call of the client.
func (c *Client) holdUntil(t time.Time) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if t.After(c.heldUntil) {
		c.heldUntil = t
	}
}

// throttle waits, inside ctx's deadline, for a pending Retry-After and for
// the client-side rate limit. A call that could not go in time is not sent.
func (c *Client) throttle(ctx context.Context, endpoint, databaseID string) error {
	c.holdMu.Lock()
	wait := c.heldUntil.Sub(c.now())
	c.holdMu.Unlock()
	if wait > 0 && !c.sleepWithin(ctx, wait) {
		return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassThrottled,
			Err: fmt.Errorf("the API asked to wait %s (Retry-After), past the collection deadline", wait.Round(time.Millisecond))}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassThrottled,
				Err: fmt.Errorf("client-side rate limit of %g requests per second: %w", float64(c.limiter.Limit()), err)}
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
