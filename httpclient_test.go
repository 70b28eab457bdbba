package main

import (
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/collector"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// clientOf is the API client main builds for the one account of the
// configuration text, written to a directory of its own with files.
func clientOf(t *testing.T, text string, files map[string][]byte) collector.API {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.yml")
	writeFile(t, path, text)
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	e := &exporter{opts: exporterOptions(path), api: collector.NewAPIMetrics(), logger: slog.New(slog.DiscardHandler)}
	c, err := e.newClient(cfg.Accounts[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seen records the requests a test server received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r.Clone(r.Context()))
}

func (s *seen) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func emptyList(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("[]"))
}

const accountHead = "accounts:\n  - name: corp\n    email: ops@example.com\n    api_key: corp-key-0123456789\n"

// TestHTTPClientConfigProxy: with proxy_url, the calls go to the proxy,
// which here answers them itself; the API's host does not even resolve.
func TestHTTPClientConfigProxy(t *testing.T) {
	t.Parallel()
	var got seen
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		emptyList(w)
	}))
	t.Cleanup(proxy.Close)

	c := clientOf(t, accountHead+"    api_url: http://api.upstash.invalid/v2\n    http_client_config:\n      proxy_url: "+proxy.URL+"\n", nil)
	if _, err := c.ListDatabases(t.Context()); err != nil {
		t.Fatalf("ListDatabases through the proxy: %v", err)
	}
	reqs := got.all()
	if len(reqs) != 1 {
		t.Fatalf("the proxy saw %d requests, want 1", len(reqs))
	}
	// A proxy is sent the absolute URL of the API.
	if r := reqs[0]; r.RequestURI != "http://api.upstash.invalid/v2/redis/databases" || r.Host != "api.upstash.invalid" {
		t.Errorf("the proxy saw %s %s (Host %s), want the API's absolute URL", r.Method, r.RequestURI, r.Host)
	}
}

// TestHTTPClientConfigFollowRedirects: a 302 to another server is not
// followed unless follow_redirects is set, and even then the other server
// never sees the Authorization header.
func TestHTTPClientConfigFollowRedirects(t *testing.T) {
	t.Parallel()
	var other seen
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		emptyList(w)
	}))
	t.Cleanup(elsewhere.Close)
	api := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/v2/redis/databases", http.StatusFound))
	t.Cleanup(api.Close)

	base := accountHead + "    api_url: " + api.URL + "/v2\n"
	for _, tc := range []struct {
		name, block string
		follow      bool
	}{
		{"no http_client_config", "", false},
		{"http_client_config without follow_redirects", "    http_client_config:\n      enable_http2: true\n", false},
		{"follow_redirects: true", "    http_client_config:\n      follow_redirects: true\n", true},
	} {
		before := len(other.all())
		_, err := clientOf(t, base+tc.block, nil).ListDatabases(t.Context())
		visits := other.all()[before:]
		var apiErr *upstash.APIError
		switch {
		case !tc.follow && (!errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusFound || len(visits) != 0):
			t.Errorf("%s: error %v and %d visits elsewhere, want the 302 and none", tc.name, err, len(visits))
		case tc.follow && (err != nil || len(visits) != 1):
			t.Errorf("%s: error %v and %d visits elsewhere, want the redirect followed once", tc.name, err, len(visits))
		}
		for _, r := range visits {
			if a := r.Header.Get("Authorization"); a != "" {
				t.Errorf("%s: the other server saw Authorization %q", tc.name, a)
			}
		}
	}
}

// TestHTTPClientConfigCAFile: an API behind a certificate of a private CA
// (a TLS-inspecting proxy) is reached with tls_config.ca_file, relative to
// the configuration's directory, and refused without it.
func TestHTTPClientConfigCAFile(t *testing.T) {
	t.Parallel()
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { emptyList(w) }))
	t.Cleanup(api.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
	base := accountHead + "    api_url: " + api.URL + "/v2\n"

	c := clientOf(t, base+"    http_client_config:\n      tls_config:\n        ca_file: corp-ca.pem\n", map[string][]byte{"corp-ca.pem": ca})
	if _, err := c.ListDatabases(t.Context()); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
	_, err := clientOf(t, base, nil).ListDatabases(t.Context())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca_file: %v, want a certificate error", err)
	}
}
