// Package upstash is a small client for the read-only part of Upstash's
// Developer API that the exporter needs: listing Redis databases and their
// backups. It knows nothing about Prometheus; callers observe requests
// through Config.Observe.
package upstash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is the Developer API's address.
const DefaultBaseURL = "https://api.upstash.com/v2"

// Defaults for Config fields left zero.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds what is read of one answer. A
	// list-backup answer is about 350 bytes a backup, so this holds well
	// over 100,000 backups while keeping a runaway body from exhausting
	// memory.
	DefaultMaxResponseBytes = 64 << 20
	// DefaultMaxRetryAfter bounds a server's Retry-After: a hold of a day
	// would blank every database for a day.
	DefaultMaxRetryAfter = 5 * time.Minute
)

// Config holds what a Client needs. Only Email and APIKey are required.
type Config struct {
	BaseURL string
	Email   string
	APIKey  string
	// Timeout limits one API call, including reading its body.
	Timeout time.Duration
	// MaxResponseBytes limits the size of one answer's body.
	MaxResponseBytes int64
	// Transport defaults to a clone of http.DefaultTransport that keeps
	// Concurrency idle connections to the API.
	Transport http.RoundTripper
	// Concurrency is how many calls the caller makes at once. The default
	// transport keeps that many idle connections (http.Transport keeps 2
	// per host), so calls reuse connections instead of opening and closing
	// one each.
	Concurrency int
	// UserAgent is sent on every request.
	UserAgent string
	// Observe, when set, is called once for every HTTP request made, with
	// the endpoint name, the status code or CodeTimeout/CodeError, and the
	// time the request took.
	Observe func(endpoint, code string, d time.Duration)
	// MaxRetryAfter caps how long a Retry-After holds back the calls of
	// one endpoint; DefaultMaxRetryAfter when zero.
	MaxRetryAfter time.Duration
	// ObserveHold, when set, is called when a Retry-After starts holding
	// back the calls of an endpoint (until is when the hold ends) and when
	// the hold ends or a success clears it (until is the zero time).
	ObserveHold func(endpoint string, until time.Time)
	// MaxRequestsPerSecond limits this client's calls; 0 is unlimited.
	MaxRequestsPerSecond float64
	// Now is the clock used for Retry-After dates, deadlines of retries and
	// to reject backups dated in the far future.
	Now func() time.Time
	// Sleep waits between retries; tests replace it. It must return early
	// with ctx's error when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the Developer API for one account. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL
	email    string
	apiKey   string
	timeout  time.Duration
	maxBytes int64
	http     *http.Client
	agent    string
	observe  func(endpoint, code string, d time.Duration)
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	limiter  *rate.Limiter

	holdMu    sync.Mutex
	heldUntil time.Time
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("upstash: invalid base URL: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("upstash: base URL %q must be an absolute http or https URL", cfg.BaseURL)
	}
	if base.User != nil {
		return nil, errors.New("upstash: base URL must not carry credentials")
	}
	if cfg.Email == "" || cfg.APIKey == "" {
		return nil, errors.New("upstash: e-mail and API key are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(cfg.Concurrency, http.DefaultMaxIdleConnsPerHost)
		t.MaxIdleConns = max(cfg.Concurrency, t.MaxIdleConns)
		cfg.Transport = t
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "upstash_backup_exporter"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepContext
	}
	return &Client{
		base:     base,
		email:    cfg.Email,
		apiKey:   cfg.APIKey,
		timeout:  cfg.Timeout,
		maxBytes: cfg.MaxResponseBytes,
		http: &http.Client{
			Transport: cfg.Transport,
			Timeout:   cfg.Timeout,
			// A redirect could carry the Authorization header to
			// another host; the API does not redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		agent:   cfg.UserAgent,
		observe: cfg.Observe,
		now:     cfg.Now,
		sleep:   cfg.Sleep,
		limiter: newLimiter(cfg.MaxRequestsPerSecond),
	}, nil
}

// ListBackups returns the backups of one database
// (GET /redis/list-backup/{id}).
func (c *Client) ListBackups(ctx context.Context, databaseID string) (BackupList, error) {
	if databaseID == "" {
		return BackupList{}, &APIError{Endpoint: EndpointListBackup, Class: ClassConnection, Err: errors.New("empty database id")}
	}
	body, err := c.get(ctx, EndpointListBackup, databaseID, "/redis/list-backup/"+url.PathEscape(databaseID), nil)
	if err != nil {
		return BackupList{}, err
	}
	list, err := DecodeBackups(body, c.now())
	if err != nil {
		return BackupList{}, &APIError{Endpoint: EndpointListBackup, DatabaseID: databaseID, StatusCode: http.StatusOK, Class: ClassDecode, Err: c.redactError(err)}
	}
	// Reasons quote what the answer holds, which an API echoing the
	// request could make the key.
	for i := range list.Problems {
		list.Problems[i].Reason = c.redact(list.Problems[i].Reason)
	}
	return list, nil
}

// ListDatabases returns every Redis database the key can see
// (GET /redis/databases).
func (c *Client) ListDatabases(ctx context.Context) ([]Database, error) {
	body, err := c.get(ctx, EndpointListDatabases, "", "/redis/databases", nil)
	if err != nil {
		return nil, err
	}
	dbs, err := DecodeDatabases(body)
	if err != nil {
		return nil, &APIError{Endpoint: EndpointListDatabases, StatusCode: http.StatusOK, Class: ClassDecode, Err: c.redactError(err)}
	}
	return dbs, nil
}

// GetDatabase returns one database (GET /redis/database/{id}), asking the
// API to leave passwords and tokens out of the answer.
func (c *Client) GetDatabase(ctx context.Context, databaseID string) (Database, error) {
	if databaseID == "" {
		return Database{}, &APIError{Endpoint: EndpointGetDatabase, Class: ClassConnection, Err: errors.New("empty database id")}
	}
	body, err := c.get(ctx, EndpointGetDatabase, databaseID, "/redis/database/"+url.PathEscape(databaseID), url.Values{"credentials": {"hide"}})
	if err != nil {
		return Database{}, err
	}
	db, err := DecodeDatabase(body)
	if err != nil {
		return Database{}, &APIError{Endpoint: EndpointGetDatabase, DatabaseID: databaseID, StatusCode: http.StatusOK, Class: ClassDecode, Err: c.redactError(err)}
	}
	return db, nil
}

// get performs one GET, retried as retry.go allows, and returns the body
// of a 2xx answer. Every failure is an *APIError.
func (c *Client) get(ctx context.Context, endpoint, databaseID, escapedPath string, query url.Values) ([]byte, error) {
	// The id was path-escaped by the caller, so "../databases" stays one
	// segment of this endpoint's path and never reaches another endpoint.
	target := c.base.String() + escapedPath
	if query != nil {
		target += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		if err := c.throttle(ctx, endpoint, databaseID); err != nil {
			return nil, err
		}
		body, err := c.attempt(ctx, endpoint, databaseID, target)
		if err == nil {
			return body, nil
		}
		wait, ok := c.retryDelay(err, attempt)
		if !ok || !c.sleepWithin(ctx, wait) {
			return nil, err
		}
	}
}

// attempt makes one HTTP request and reports it to Observe.
func (c *Client) attempt(ctx context.Context, endpoint, databaseID, target string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassConnection, Err: err}
	}
	req.SetBasicAuth(c.email, c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)

	start := time.Now()
	body, status, header, err := c.do(req)
	elapsed := time.Since(start)

	var apiErr *APIError
	switch {
	case err != nil:
		apiErr = c.transportError(ctx, endpoint, databaseID, status, err)
	case status < 200 || status > 299:
		apiErr = &APIError{
			Endpoint:   endpoint,
			DatabaseID: databaseID,
			StatusCode: status,
			Class:      ClassHTTPStatus,
			Body:       c.excerpt(body),
			RetryAfter: parseRetryAfter(header.Get("Retry-After"), c.now()),
		}
	}
	if c.observe != nil {
		code := strconv.Itoa(status)
		if apiErr != nil {
			code = apiErr.Code()
		}
		c.observe(endpoint, code, elapsed)
	}
	if apiErr != nil {
		return nil, apiErr
	}
	return body, nil
}

// errTooLarge marks a body over the size limit.
var errTooLarge = errors.New("response body exceeds the size limit")

func (c *Client) do(req *http.Request) (body []byte, status int, header http.Header, err error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, resp.StatusCode, resp.Header, err
	}
	if int64(len(body)) > c.maxBytes {
		return nil, resp.StatusCode, resp.Header, fmt.Errorf("%w (%d bytes)", errTooLarge, c.maxBytes)
	}
	return body, resp.StatusCode, resp.Header, nil
}

// transportError classifies a failure to get a whole answer. The error
// text of net/http names the URL but never the credentials, which travel
// in a header; it is still passed through redact for safety.
func (c *Client) transportError(ctx context.Context, endpoint, databaseID string, status int, err error) *APIError {
	e := &APIError{Endpoint: endpoint, DatabaseID: databaseID, StatusCode: status, Class: ClassConnection}
	var netErr net.Error
	switch {
	case errors.Is(err, errTooLarge):
		e.Class = ClassTooLarge
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &netErr) && netErr.Timeout():
		e.Class = ClassTimeout
		// A status without a whole body is still a timeout for the
		// code label: the call did not complete.
		e.StatusCode = 0
	}
	e.Err = errors.New(c.redact(unwrapURLError(err).Error()))
	return e
}

// unwrapURLError drops the "Get \"https://...\":" prefix of *url.Error:
// the endpoint is already named by APIError.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// maxExcerpt bounds the body text kept in an APIError.
const maxExcerpt = 200

// excerpt turns an error answer into a short, printable, secret-free text.
// Seen shapes are {"error":"..."}, a JSON string, and plain text or HTML.
func (c *Client) excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if msg, ok := errorMessage(body); ok {
		s = msg
	}
	s = c.redact(s)
	s = strings.Map(func(r rune) rune {
		if r == '\uFFFD' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") + "…"
	}
	return s
}

// redact removes the API key, and the Basic credentials built from it,
// from a text that is about to be kept in an error.
func (c *Client) redact(s string) string {
	for _, secret := range []string{c.apiKey, basicToken(c.email, c.apiKey)} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "<secret>")
		}
	}
	return s
}

// redactError is err with its text redacted: a decode error quotes the
// answer, which an API echoing the request could make the key.
func (c *Client) redactError(err error) error {
	return errors.New(c.redact(err.Error()))
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 86400 {
			secs = 86400
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
