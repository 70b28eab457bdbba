package upstash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// get performs one GET, retried as retry.go allows, and hands the body of
// a 2xx answer to read. An error of read that is not one of reading the
// body fails the call as undecodable (or too large, for the budget of
// entries). Every failure is an *APIError.
func (c *Client) get(ctx context.Context, endpoint, databaseID, escapedPath string, read func(io.Reader) error) error {
	// The id was path-escaped by the caller, so "../databases" stays one
	// segment of this endpoint's path and never reaches another endpoint.
	target := c.base.String() + escapedPath
	for attempt := 0; ; attempt++ {
		if err := c.throttle(ctx, endpoint, databaseID); err != nil {
			return err
		}
		err := c.attempt(ctx, endpoint, databaseID, target, read)
		if err == nil {
			return nil
		}
		wait, ok := c.retryDelay(err, attempt)
		if !ok || !c.sleepWithin(ctx, wait) {
			return err
		}
	}
}

// attempt makes one HTTP request, reads its answer and reports it to
// Observe.
func (c *Client) attempt(ctx context.Context, endpoint, databaseID, target string, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassConnection, Err: errors.New(c.redact(err.Error()))}
	}
	req.Header = c.requestHeader(c.key())

	start := time.Now()
	status, apiErr := c.do(ctx, req, endpoint, databaseID, read)
	elapsed := time.Since(start)

	if c.observe != nil {
		code := strconv.Itoa(status)
		if apiErr != nil {
			code = apiErr.Code()
		}
		c.observe(endpoint, code, elapsed)
	}
	if apiErr != nil {
		return apiErr
	}
	return nil
}

// errTooLarge marks a body over the size limit.
var errTooLarge = errors.New("response body exceeds the size limit")

// do sends req and reads its answer: an error answer into an excerpt, a
// 2xx one through read. It returns the HTTP status, 0 when none came.
func (c *Client) do(ctx context.Context, req *http.Request, endpoint, databaseID string, read func(io.Reader) error) (int, *APIError) {
	resp, err := c.send(req)
	if err != nil {
		return 0, c.transportError(ctx, endpoint, databaseID, 0, err)
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	body := &limitedBody{r: resp.Body, max: c.maxBytes}
	if status < 200 || status > 299 {
		text, truncated, err := readBounded(body, maxErrorBody)
		if err != nil {
			return status, c.transportError(ctx, endpoint, databaseID, status, unwrapBody(err))
		}
		e := &APIError{
			Endpoint:   endpoint,
			DatabaseID: databaseID,
			StatusCode: status,
			Class:      ClassHTTPStatus,
			Body:       c.excerpt(text, truncated),
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), c.maxRetryAfter),
		}
		if status == http.StatusTooManyRequests && e.RetryAfter > 0 {
			c.holdUntil(endpoint, c.now().Add(e.RetryAfter))
		}
		return status, e
	}
	// The API answered: whatever held this endpoint back is over.
	c.clearHold(endpoint)
	err = read(body)
	var be *bodyError
	var budget *budgetError
	switch {
	case err == nil:
		return status, nil
	case errors.As(err, &be):
		return status, c.transportError(ctx, endpoint, databaseID, status, be.err)
	case errors.As(err, &budget):
		return status, &APIError{Endpoint: endpoint, DatabaseID: databaseID, StatusCode: status, Class: ClassTooLarge, Err: budget}
	default:
		// A decode error quotes the answer, which an API echoing the
		// request could make the key.
		return status, &APIError{Endpoint: endpoint, DatabaseID: databaseID, StatusCode: status, Class: ClassDecode, Err: c.redactError(err)}
	}
}

// limitedBody reads a body and fails once more than max bytes came. Its
// errors are *bodyError, so that a failure to read the answer is told
// from a failure to decode it.
type limitedBody struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, &bodyError{fmt.Errorf("%w (%d bytes)", errTooLarge, l.max)}
	}
	if room := l.max + 1 - l.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n - int(l.n-l.max), &bodyError{fmt.Errorf("%w (%d bytes)", errTooLarge, l.max)}
	}
	if err != nil && err != io.EOF {
		err = &bodyError{err}
	}
	return n, err
}

// bodyError is a failure to read an answer's body.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func unwrapBody(err error) error {
	var be *bodyError
	if errors.As(err, &be) {
		return be.err
	}
	return err
}

// readBounded reads up to limit bytes of r and says whether more followed.
func readBounded(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}
