package upstash

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestKeyFuncRotates: with Config.Key, the next request sends the key the
// function returns now, and the texts kept in errors redact it (and the
// key before it) without a new Client.
func TestKeyFuncRotates(t *testing.T) {
	t.Parallel()
	const oldKey, newKey = "old-key-0123456789abcdef", "new-key-fedcba9876543210"
	var current atomic.Value
	current.Store(oldKey)
	var mu sync.Mutex
	var seen []string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, key, _ := r.BasicAuth()
		mu.Lock()
		seen = append(seen, key)
		mu.Unlock()
		// An API that quotes both keys in its error answer.
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"key ` + key + ` rejected, ` + oldKey + ` revoked"}`))
	}, func(cfg *Config) { cfg.APIKey = ""; cfg.Key = func() string { return current.Load().(string) } })

	_, err := c.ListDatabases(t.Context())
	if err == nil || strings.Contains(err.Error(), oldKey) {
		t.Fatalf("first call: %v", err)
	}
	current.Store(newKey)
	_, err = c.ListDatabases(t.Context())
	if err == nil {
		t.Fatal("second call succeeded")
	}
	for _, k := range []string{oldKey, newKey} {
		if strings.Contains(err.Error(), k) {
			t.Errorf("error after the rotation holds %q: %v", k, err)
		}
	}
	if !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("error after the rotation = %v, want the keys redacted", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != oldKey || seen[1] != newKey {
		t.Errorf("keys sent = %q, want the old then the new one", seen)
	}
}

// TestRedirects: by default a 3xx is the answer and its Location is never
// visited; with FollowRedirects it is, and the Authorization header goes to
// the base URL's host and port only.
func TestRedirects(t *testing.T) {
	t.Parallel()
	type visit struct{ path, auth string }
	var mu sync.Mutex
	var other []visit
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		other = append(other, visit{r.URL.Path, r.Header.Get("Authorization")})
		mu.Unlock()
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(elsewhere.Close)
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testEmail+":"+testKey))
	handler := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redis/databases":
			// Same host and port: the header may follow.
			http.Redirect(w, r, "/moved/databases", http.StatusFound)
		case "/moved/databases":
			if r.Header.Get("Authorization") != wantAuth {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			// Another port of the same host: net/http would keep the
			// header; the client must not.
			http.Redirect(w, r, elsewhere.URL+"/redis/databases", http.StatusFound)
		}
	}

	c, rec := newTestClient(t, handler)
	_, err := c.ListDatabases(t.Context())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusFound {
		t.Errorf("without FollowRedirects: %v, want the 302 as an error", err)
	}
	if got := rec.obs; len(got) != 1 || got[0].code != "302" {
		t.Errorf("observed %v, want one 302", got)
	}
	mu.Lock()
	if len(other) != 0 {
		t.Errorf("the other server was visited without FollowRedirects: %v", other)
	}
	mu.Unlock()

	c, _ = newTestClient(t, handler, func(cfg *Config) { cfg.FollowRedirects = true })
	if _, err := c.ListDatabases(t.Context()); err != nil {
		t.Fatalf("with FollowRedirects: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(other) != 1 || other[0].auth != "" {
		t.Errorf("the other server saw %v, want one visit without Authorization", other)
	}
}
