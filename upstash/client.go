// Package upstash is a small client for the read-only part of Upstash's
// Developer API that the exporter needs: listing Redis databases and their
// backups. It knows nothing about Prometheus; callers observe requests
// through Config.Observe.
package upstash

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	follow   bool
	agent    string
	observe  func(endpoint, code string, d time.Duration)
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	limiter  *rate.Limiter
	// redactor removes every encoding of the current and the previous key
	// from the texts kept in errors and problems; keyMu guards lastKey, the
	// key it was built for, header, and their rebuilding.
	redactor atomic.Pointer[redact.Redactor]
	keyMu    sync.Mutex
	lastKey  string
	// header is what every request of lastKey sends. Requests share it and
	// nothing writes to it: a new key gets a new one.
	header http.Header
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
		// An answer of a few dozen backups (about 350 bytes each) is read
		// in one system call instead of several 4 KiB ones.
		t.ReadBufferSize = 16 << 10
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
		follow:        cfg.FollowRedirects,
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
	c.requestHeader(firstKey)
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

// send makes one HTTP request. Without redirects to follow, it is the
// transport's: http.Client would only add a copy of the headers, for
// redirects, and a timer that the request's context already has.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.follow {
		return c.http.Do(req)
	}
	resp, err := c.http.Transport.RoundTrip(req)
	if err == nil && resp.Body == nil {
		resp.Body = http.NoBody // as http.Client does
	}
	return resp, err
}

// requestHeader is the header of a request sending key, from Config.Key.
// When key differs from the last one, the redactor is rebuilt for both
// before the new key is sent.
func (c *Client) requestHeader(key string) http.Header {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if key != c.lastKey || c.header == nil {
		c.redactor.Store(redact.New(
			redact.Credential{User: c.email, Key: key},
			redact.Credential{User: c.email, Key: c.lastKey},
		))
		c.lastKey = key
		c.header = http.Header{
			"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(c.email+":"+key))},
			"Accept":        {"application/json"},
			"User-Agent":    {c.agent},
		}
	}
	return c.header
}
