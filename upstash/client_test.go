package upstash

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	testEmail = "ops@example.com"
	testKey   = "test-key-0123456789abcdef"
)

type observation struct{ endpoint, code string }

type recorder struct {
	mu  sync.Mutex
	obs []observation
}

func (r *recorder) observe(endpoint, code string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, observation{endpoint, code})
}

func newTestClient(t *testing.T, h http.HandlerFunc, mutate ...func(*Config)) (*Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	cfg := Config{BaseURL: srv.URL, Email: testEmail, APIKey: testKey, Observe: rec.observe, Timeout: 5 * time.Second,
		// Retries wait for nothing in tests; retry_test.go checks the waits.
		Sleep: func(context.Context, time.Duration) error { return nil }}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestClientSendsBasicAuthAndEscapesID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      string
		rawPath string
	}{
		{"6gcqwafd-9627-4ec2-4g51-b1429h59c8d4", "/v2/redis/list-backup/6gcqwafd-9627-4ec2-4g51-b1429h59c8d4"},
		{"../databases", "/v2/redis/list-backup/..%2Fdatabases"},
		{"a/b?c#d", "/v2/redis/list-backup/a%2Fb%3Fc%23d"},
		{"%2e%2e", "/v2/redis/list-backup/%252e%252e"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			var gotPath, gotAuth, gotQuery string
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotAuth, gotQuery = r.URL.EscapedPath(), r.Header.Get("Authorization"), r.URL.RawQuery
				_, _ = w.Write([]byte("[]"))
			}, func(cfg *Config) { cfg.BaseURL += "/v2/" })
			if _, err := c.ListBackups(t.Context(), tt.id); err != nil {
				t.Fatal(err)
			}
			if gotPath != tt.rawPath {
				t.Errorf("path = %q, want %q", gotPath, tt.rawPath)
			}
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testEmail+":"+testKey))
			if gotAuth != want {
				t.Errorf("Authorization = %q, want %q", gotAuth, want)
			}
			if gotQuery != "" {
				t.Errorf("query = %q, want none", gotQuery)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		mutate    func(*Config)
		ctx       func(context.Context) (context.Context, context.CancelFunc)
		wantClass string
		wantCode  string
		wantText  string
		wantRetry time.Duration
		// wantCalls is 2 for answers that are retried once, else 1.
		wantCalls int
	}{
		{
			name: "401 with error object",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
			},
			wantClass: ClassHTTPStatus, wantCode: "401",
			wantText: `upstash list_backup "db1": HTTP 401: Unauthorized`,
		},
		{
			name: "404 with JSON string",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`"database not found"`))
			},
			wantClass: ClassHTTPStatus, wantCode: "404",
			wantText: `upstash list_backup "db1": HTTP 404: database not found`,
		},
		{
			name: "503 plain text with control characters",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("under\x00 maintenance\n\n\x1b[31m"))
			},
			wantCalls: 2,
			wantClass: ClassHTTPStatus, wantCode: "503",
			wantText: `upstash list_backup "db1": HTTP 503: under maintenance [31m`,
		},
		{
			name: "429 with Retry-After seconds",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantCalls: 2,
			wantClass: ClassHTTPStatus, wantCode: "429", wantRetry: 7 * time.Second,
			wantText: `upstash list_backup "db1": HTTP 429`,
		},
		{
			name: "error body echoing the key is redacted",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte("bad key " + testKey + " auth " + r.Header.Get("Authorization")))
			},
			wantClass: ClassHTTPStatus, wantCode: "400",
			wantText: `upstash list_backup "db1": HTTP 400: bad key <secret> auth Basic <secret>`,
		},
		{
			name: "long HTML body is cut",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html>" + strings.Repeat("x", 1000) + "</html>"))
			},
			wantCalls: 2,
			wantClass: ClassHTTPStatus, wantCode: "502",
			wantText: `upstash list_backup "db1": HTTP 502: <html>` + strings.Repeat("x", 194) + "…",
		},
		{
			name: "200 with an error object",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"error":"boom"}`))
			},
			wantClass: ClassDecode, wantCode: "200",
			wantText: `upstash list_backup "db1": HTTP 200: decode: expected a JSON array, got an error message: "boom"`,
		},
		{
			name: "200 with truncated JSON",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`[{"backup_id":"a","creation_time":17`))
			},
			wantClass: ClassDecode, wantCode: "200",
			wantText: `upstash list_backup "db1": HTTP 200: decode: invalid JSON array: unexpected end of JSON input`,
		},
		{
			name: "200 with HTML",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`<html>hello</html>`))
			},
			wantClass: ClassDecode, wantCode: "200",
			wantText: `upstash list_backup "db1": HTTP 200: decode: expected a JSON array, got HTML or XML`,
		},
		{
			name: "body over the size limit",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("[" + strings.Repeat(" ", 2048) + "]"))
			},
			mutate:    func(c *Config) { c.MaxResponseBytes = 1024 },
			wantClass: ClassTooLarge, wantCode: "200",
			wantText: `upstash list_backup "db1": HTTP 200: too_large: response body exceeds the size limit (1024 bytes)`,
		},
		{
			name: "hang past the deadline",
			handler: func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 20*time.Millisecond)
			},
			wantClass: ClassTimeout, wantCode: CodeTimeout,
			wantText: `upstash list_backup "db1": timeout: context deadline exceeded`,
		},
		{
			name: "connection reset",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			},
			wantCalls: 2,
			wantClass: ClassConnection, wantCode: CodeError,
			wantText: `upstash list_backup "db1": connection: EOF`,
		},
		{
			name: "redirect is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
			},
			wantClass: ClassHTTPStatus, wantCode: "302",
			wantText: `upstash list_backup "db1": HTTP 302: <a href="http://127.0.0.1:1/elsewhere">Found</a>.`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mutate []func(*Config)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			c, rec := newTestClient(t, tt.handler, mutate...)
			ctx := t.Context()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx(ctx)
				defer cancel()
			}
			_, err := c.ListBackups(ctx, "db1")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v (%T), want *APIError", err, err)
			}
			if ae.Class != tt.wantClass || ae.Code() != tt.wantCode {
				t.Errorf("class, code = %s, %s; want %s, %s", ae.Class, ae.Code(), tt.wantClass, tt.wantCode)
			}
			if ae.Error() != tt.wantText {
				t.Errorf("error text\n got: %s\nwant: %s", ae.Error(), tt.wantText)
			}
			if ae.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %s, want %s", ae.RetryAfter, tt.wantRetry)
			}
			if strings.Contains(ae.Error(), testKey) || strings.Contains(ae.Error(), base64.StdEncoding.EncodeToString([]byte(testEmail+":"+testKey))) {
				t.Errorf("error text leaks the key: %s", ae.Error())
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			wantCalls := max(tt.wantCalls, 1)
			if len(rec.obs) != wantCalls {
				t.Errorf("observations = %v, want %d", rec.obs, wantCalls)
			}
			for _, o := range rec.obs {
				if o != (observation{EndpointListBackup, tt.wantCode}) {
					t.Errorf("observation %v, want %s %s", o, EndpointListBackup, tt.wantCode)
				}
			}
		})
	}
}

func TestIsAuth(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{401: true, 403: true, 404: false, 500: false} {
		if got := IsAuth(&APIError{StatusCode: code}); got != want {
			t.Errorf("IsAuth(%d) = %v", code, got)
		}
	}
	if IsAuth(errors.New("x")) {
		t.Error("IsAuth(plain error) = true")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Email: "e"}, "upstash: e-mail and API key are required"},
		{Config{APIKey: "k"}, "upstash: e-mail and API key are required"},
		{Config{Email: "e", APIKey: "k", BaseURL: "ftp://x"}, `upstash: base URL "ftp://x" must be an absolute http or https URL`},
		{Config{Email: "e", APIKey: "k", BaseURL: "/v2"}, `upstash: base URL "/v2" must be an absolute http or https URL`},
		{Config{Email: "e", APIKey: "k", BaseURL: "https://u:p@x"}, "upstash: base URL must not carry credentials"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const limit = 5 * time.Minute
	tests := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-3":                            0,
		"5":                             5 * time.Second,
		"300":                           limit,
		"301":                           limit,
		"86400":                         limit,
		"999999999999999999999999":      limit,
		"-999999999999999999999999":     0,
		"soon":                          0,
		"Thu, 26 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Thu, 26 Nov 2026 11:00:00 GMT": 0,
		"Fri, 27 Nov 2026 12:00:00 GMT": limit,
		"Sat, 26 Nov 2126 12:00:00 GMT": limit,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now, limit); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEchoedKeyNeverLeaks: an API, or a proxy before it, echoing the key in
// any encoding, in an error answer or in a 200 answer, never gets it into an
// error text or a problem's reason.
func TestEchoedKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	// A key with characters every encoding changes.
	const key = `k3y/with+odd&chars<"é">%20`
	basic := base64.StdEncoding.EncodeToString([]byte(testEmail + ":" + key))
	jsonKey, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{
		"raw":         key,
		"url query":   url.QueryEscape(key),
		"url path":    url.PathEscape(key),
		"url lower":   strings.ToLower(url.QueryEscape(key)),
		"html":        html.EscapeString(key),
		"json":        string(jsonKey[1 : len(jsonKey)-1]),
		"basic":       basic,
		"key base64":  base64.StdEncoding.EncodeToString([]byte(key)),
		"split lines": key[:10] + "\r\n  " + key[10:],
		"split basic": basic[:20] + "\n" + basic[20:],
	}
	// Where an answer can quote the form: as an error answer's message,
	// as plain text, and as a 200 answer's message or entries.
	bodies := []struct {
		name   string
		status int
		body   func(form string) string
	}{
		{"400 error object", http.StatusBadRequest, func(f string) string { return `{"error":` + jsonString(f) + `}` }},
		{"401 plain text", http.StatusUnauthorized, func(f string) string { return "rejected: " + f + "\n" }},
		{"503 long page", http.StatusServiceUnavailable, func(f string) string { return strings.Repeat("x ", maxErrorBody/2-3) + f }},
		{"200 error object", http.StatusOK, func(f string) string { return `{"message":` + jsonString(f) + `}` }},
		{"200 plain text", http.StatusOK, func(f string) string { return "<html>" + f + "</html>" }},
		{"200 entries", http.StatusOK, func(f string) string {
			v := jsonString(f)
			return `[{"backup_id":` + v + `,"creation_time":1764000000},{"backup_id":` + v + `,"creation_time":1764000000},` +
				`{"creation_time":` + v + `},{"creation_time":1764000000,"backup_size":` + v + `},` +
				`{"creation_time":1764000000,"state":` + v + `},{"database_id":` + v + `,"creation_time":1764000000}]`
		}},
		{"200 truncated", http.StatusOK, func(f string) string { return `[{"backup_id":"` + f }},
	}
	for _, b := range bodies {
		for formName, form := range forms {
			t.Run(b.name+"/"+formName, func(t *testing.T) {
				t.Parallel()
				c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(b.status)
					_, _ = w.Write([]byte(b.body(form)))
				}, func(cfg *Config) { cfg.APIKey = key; cfg.Now = func() time.Time { return time.Unix(1764000000, 0) } })
				list, err := c.ListBackups(t.Context(), "db1")
				var texts []string
				if err != nil {
					texts = append(texts, err.Error())
				}
				for _, p := range list.Problems {
					texts = append(texts, p.Reason)
				}
				if len(texts) == 0 {
					t.Fatal("the answer was read without an error or a problem")
				}
				for _, text := range texts {
					for name, f := range forms {
						if strings.Contains(text, f) || strings.Contains(strings.Join(strings.Fields(text), ""), strings.Join(strings.Fields(f), "")) {
							t.Errorf("%q holds the key's %s form", text, name)
						}
					}
				}
			})
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

func TestDotSegmentIDsAreNotSent(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", ".", ".."} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			c, rec := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("[]"))
			})
			_, err := c.ListBackups(t.Context(), id)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Class != ClassInvalid || ae.Code() != CodeError {
				t.Fatalf("error = %v, want class invalid", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.obs) != 0 {
				t.Errorf("requests made: %v", rec.obs)
			}
		})
	}
}

// An API that echoes the key in the databases it lists: the fields that
// become label values of upstash_redis_database_info come back with
// <secret> for every encoding of the key.
func TestListedDatabaseFieldsAreRedacted(t *testing.T) {
	t.Parallel()
	const key = "k&y+/0005"
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`[{"database_id":"db-1","database_name":` + jsonString("orders "+key) +
			`,"type":` + jsonString(base64.StdEncoding.EncodeToString([]byte(testEmail+":"+key))) +
			`,"region":` + jsonString("eu-"+url.QueryEscape(key)) +
			`,"primary_region":` + jsonString(html.EscapeString(key)) + `,"state":"active"}]`))
	}, func(cfg *Config) { cfg.APIKey = key })
	dbs, err := c.ListDatabases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Database{ID: "db-1", Name: "orders <secret>", Plan: "<secret>", Region: "eu-<secret>", PrimaryRegion: "<secret>", State: "active"}
	if len(dbs) != 1 || dbs[0] != want {
		t.Errorf("databases %+v, want %+v", dbs, want)
	}
}

// An answer whose strings are not valid UTF-8 gives fields that are, as
// encoding/json makes them (U+FFFD for each bad byte): the fields become
// label values, which must be UTF-8.
func TestInvalidUTF8BecomesReplacementCharacters(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/redis/databases") {
			_, _ = w.Write([]byte("[{\"database_id\":\"db-1\",\"database_name\":\"ord\xffers\",\"region\":\"eu\xc3\",\"state\":\"active\"}]"))
			return
		}
		_, _ = w.Write([]byte("[{\"backup_id\":\"b\xfe1\",\"database_id\":\"db-1\",\"state\":\"comp\xffleted\",\"creation_time\":1764000000}]"))
	}, func(cfg *Config) { cfg.Now = func() time.Time { return time.Unix(1764000100, 0) } })
	dbs, err := c.ListDatabases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 1 || dbs[0].Name != "ord\uFFFDers" || dbs[0].Region != "eu\uFFFD" {
		t.Errorf("databases %+v", dbs)
	}
	list, err := c.ListBackups(t.Context(), "db-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Backups {
		if !utf8.ValidString(b.State) {
			t.Errorf("backup %+v holds invalid UTF-8", b)
		}
	}
}
