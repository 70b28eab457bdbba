// Package upstash is a small client for the read-only part of Upstash's
// Developer API that the exporter needs: listing Redis databases and their
// backups. It knows nothing about Prometheus; callers observe requests
// through Config.Observe.
package upstash

import (
	"bytes"
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
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
)

// DefaultBaseURL is the Developer API's address.
const DefaultBaseURL = "https://api.upstash.com/v2"

// Defaults for Config fields left zero.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds what is read of one answer. A
	// list-backup answer is about 350 bytes a backup, so this holds well
	// over 100,000 backups while keeping a runaway body from taking the
	// call's whole time. Answers are decoded as they arrive, so memory
	// does not depend on it: see decodeBackupStream.
	DefaultMaxResponseBytes = 64 << 20
	// DefaultMaxRetryAfter bounds a server's Retry-After: a hold of a day
	// would blank every database for a day.
	DefaultMaxRetryAfter = 5 * time.Minute
)

// Config holds what a Client needs. Only Email and APIKey (or Key) are
// required.
type Config struct {
	BaseURL string
	Email   string
	APIKey  string
	// Key, when set, replaces APIKey: it is called before every request
	// for the key to send, so a rotated key is used from the next request
	// on. It must return a non-empty key quickly. When the key it returns
	// changes, the client's redaction learns the new key and keeps the
	// previous one.
	Key func() string
	// FollowRedirects follows up to 10 redirects; the Authorization header
	// is sent only to BaseURL's scheme, host and port. Off by default: a
	// 3xx answer is returned as such, since the API does not redirect.
	FollowRedirects bool
	// Timeout limits one API call, including reading its body.
	Timeout time.Duration
	// MaxResponseBytes limits the size of one answer's body. Answers are
	// read as a stream, so this bounds the time and bandwidth an answer
	// can take, not memory.
	MaxResponseBytes int64
	// Transport defaults to a clone of http.DefaultTransport (which
	// honours HTTPS_PROXY and NO_PROXY) that keeps Concurrency idle
	// connections to the API.
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
	// back the calls of an endpoint or moves its end (until is when the
	// hold ends), and when a success of that endpoint clears it or the
	// next call finds it over (until is the zero time). It is called with
	// a lock of the client held, in order, and must not call the client.
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
	key      func() string
	timeout  time.Duration
	maxBytes int64
	http     *http.Client
	agent    string
	observe  func(endpoint, code string, d time.Duration)
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	limiter  *rate.Limiter
	// redactor removes every encoding of the current and the previous key
	// from the texts kept in errors and problems; keyMu guards lastKey, the
	// key it was built for, and its rebuilding.
	redactor atomic.Pointer[redact.Redactor]
	keyMu    sync.Mutex
	lastKey  string
	// entries bounds the backups held by the answers being decoded.
	entries entryBudget

	holdMu        sync.Mutex
	holds         map[string]time.Time // endpoint → end of its Retry-After hold
	maxRetryAfter time.Duration
	observeHold   func(endpoint string, until time.Time)
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
	if cfg.Key == nil {
		key := cfg.APIKey
		cfg.Key = func() string { return key }
	}
	firstKey := cfg.Key()
	if cfg.Email == "" || firstKey == "" {
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
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	c := &Client{
		base:     base,
		email:    cfg.Email,
		key:      cfg.Key,
		timeout:  cfg.Timeout,
		maxBytes: cfg.MaxResponseBytes,
		http: &http.Client{
			Transport:     cfg.Transport,
			Timeout:       cfg.Timeout,
			CheckRedirect: checkRedirect(base, cfg.FollowRedirects),
		},
		agent:         cfg.UserAgent,
		observe:       cfg.Observe,
		now:           cfg.Now,
		sleep:         cfg.Sleep,
		limiter:       newLimiter(cfg.MaxRequestsPerSecond),
		holds:         map[string]time.Time{},
		maxRetryAfter: cfg.MaxRetryAfter,
		observeHold:   cfg.ObserveHold,
	}
	c.entries.limit = defaultEntriesInFlight
	c.currentKey(firstKey)
	return c, nil
}

// checkRedirect is the redirect policy. A redirect could carry the
// Authorization header to another host, so by default none is followed;
// when follow is set, the header goes only to base's scheme, host and port
// (net/http would keep it for another port of the same host, or for
// plain http).
func checkRedirect(base *url.URL, follow bool) func(*http.Request, []*http.Request) error {
	if !follow {
		return func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Scheme != base.Scheme || !strings.EqualFold(req.URL.Host, base.Host) {
			req.Header.Del("Authorization")
		}
		return nil
	}
}

// currentKey is the key to send, from Config.Key. When it differs from the
// last one, the redactor is rebuilt for both before the new key is sent.
func (c *Client) currentKey(key string) string {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if key != c.lastKey || c.redactor.Load() == nil {
		c.redactor.Store(redact.New(
			redact.Credential{User: c.email, Key: key},
			redact.Credential{User: c.email, Key: c.lastKey},
		))
		c.lastKey = key
	}
	return key
}

// ClassInvalid marks a call that was not sent because its arguments could
// not name what they should (an empty database id, "." or "..").
const ClassInvalid = "invalid"

// ListBackups returns the backups of one database
// (GET /redis/list-backup/{id}). The answer is decoded as it arrives: see
// decodeBackupStream for what it costs.
func (c *Client) ListBackups(ctx context.Context, databaseID string) (BackupList, error) {
	if err := checkID(EndpointListBackup, databaseID); err != nil {
		return BackupList{}, err
	}
	var list BackupList
	err := c.get(ctx, EndpointListBackup, databaseID, "/redis/list-backup/"+url.PathEscape(databaseID), nil, func(body io.Reader) error {
		var err error
		list, err = decodeBackupStream(body, c.now(), databaseID, &c.entries)
		return err
	})
	if err != nil {
		return BackupList{}, err
	}
	// Reasons quote what the answer holds, which an API echoing the
	// request could make the key.
	for i := range list.Problems {
		list.Problems[i].Reason = c.redact(list.Problems[i].Reason)
	}
	return list, nil
}

// checkID refuses database ids that cannot name a database in a path: ""
// and the dot segments, which a normalising proxy on the way would turn
// into another endpoint (url.PathEscape leaves them as they are).
func checkID(endpoint, databaseID string) error {
	switch databaseID {
	case "":
		return &APIError{Endpoint: endpoint, Class: ClassInvalid, Err: errors.New("empty database id")}
	case ".", "..":
		return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassInvalid, Err: errors.New("a database id cannot be a dot segment")}
	}
	return nil
}

// ListDatabases returns every Redis database the key can see
// (GET /redis/databases).
func (c *Client) ListDatabases(ctx context.Context) ([]Database, error) {
	var dbs []Database
	err := c.get(ctx, EndpointListDatabases, "", "/redis/databases", nil, func(body io.Reader) error {
		var err error
		dbs, err = decodeDatabaseStream(body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dbs, nil
}

// get performs one GET, retried as retry.go allows, and hands the body of
// a 2xx answer to read. An error of read that is not one of reading the
// body fails the call as undecodable (or too large, for the budget of
// entries). Every failure is an *APIError.
func (c *Client) get(ctx context.Context, endpoint, databaseID, escapedPath string, query url.Values, read func(io.Reader) error) error {
	// The id was path-escaped by the caller, so "../databases" stays one
	// segment of this endpoint's path and never reaches another endpoint.
	target := c.base.String() + escapedPath
	if query != nil {
		target += "?" + query.Encode()
	}
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
	req.SetBasicAuth(c.email, c.currentKey(c.key()))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)

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
	resp, err := c.http.Do(req)
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
// truncated says the answer was longer than body: its last word, which
// could be a piece of a secret, is dropped.
func (c *Client) excerpt(body []byte, truncated bool) string {
	if truncated {
		if cut := bytes.LastIndexFunc(body, unicode.IsSpace); cut >= 0 {
			body = body[:cut]
		}
	}
	s := strings.TrimSpace(string(body))
	if msg, ok := errorMessage(body); ok && !truncated {
		s = msg
	}
	// Redaction comes before white space is normalised: a key broken
	// across lines is recognised as such and withholds the whole text.
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

// redact removes every encoding of the API key, and of the Basic
// credentials built from it, from a text about to be kept in an error.
func (c *Client) redact(s string) string {
	return c.redactor.Load().String(s)
}

// redactError is err with its text redacted: a decode error quotes the
// answer, which an API echoing the request could make the key.
func (c *Client) redactError(err error) error {
	return errors.New(c.redact(err.Error()))
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
