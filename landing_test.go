package main

import (
	"html"
	"io"
	"net/http"
	neturl "net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// hrefs are the link targets of an HTML page, resolved against base.
func hrefs(t *testing.T, base, page string) []*neturl.URL {
	t.Helper()
	b, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var links []*neturl.URL
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		u, err := b.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatalf("landing page link %q: %v", m[1], err)
		}
		links = append(links, u)
	}
	return links
}

// Every link of the landing page that points at the exporter answers 200,
// with and without --web.enable-pprof; the pprof pages are linked and
// served only with it.
func TestLandingPageLinksAnswer(t *testing.T) {
	t.Parallel()
	for _, pprof := range []bool{false, true} {
		name := "without pprof"
		args := []string{"--demo"}
		if pprof {
			name = "with pprof"
			args = append(args, "--web.enable-pprof")
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := startExporter(t, nil, args...)
			code, page := httpDo(t, http.MethodGet, e.url+"/", nil)
			if code != http.StatusOK {
				t.Fatalf("/ answered %d:\n%s", code, page)
			}
			var followed []string
			for _, u := range hrefs(t, e.url+"/", page) {
				if "http://"+u.Host != e.url {
					continue // elsewhere on the web (pprof.me), not served here
				}
				if q := u.Query(); q.Has("seconds") {
					// The page asks for a 60 s CPU profile; the same route
					// is followed for 1 s. TestLandingProfileOutlivesServerTimeouts
					// shows a profile longer than the server's timeouts.
					q.Set("seconds", "1")
					u.RawQuery = q.Encode()
				}
				code, body := httpDo(t, http.MethodGet, u.String(), map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "10"})
				if code != http.StatusOK {
					t.Errorf("landing page link %s answered %d:\n%.500s", u, code, body)
				}
				followed = append(followed, u.Path)
			}
			for _, p := range []string{"/metrics", "/-/healthy", "/-/ready"} {
				if !slices.Contains(followed, p) {
					t.Errorf("the landing page does not link %s; it links %v", p, followed)
				}
			}
			for _, p := range []string{"/debug/pprof/heap", "/debug/pprof/profile"} {
				if slices.Contains(followed, p) != pprof {
					t.Errorf("with --web.enable-pprof=%v, the landing page links %v", pprof, followed)
				}
			}
			for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
				code, body := httpDo(t, http.MethodGet, e.url+p, nil)
				want := http.StatusNotFound
				if pprof {
					want = http.StatusOK
				}
				if code != want {
					t.Errorf("with --web.enable-pprof=%v, %s answered %d, want %d:\n%.500s", pprof, p, code, want, body)
				}
			}
		})
	}
}

// A CPU profile and an execution trace run for their ?seconds= even when
// that is longer than the server's read and write timeouts, as the landing
// page's 60 s profile is.
func TestLandingProfileOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	config := accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake)
	e, _, _ := buildInProcess(t, config, func(o *options) {
		o.enablePprof = true
		o.timeouts = serverTimeouts{readHeader: 100 * time.Millisecond, read: 100 * time.Millisecond, write: 100 * time.Millisecond}
	})
	url, client := serveOnLoopback(t, e, nil)
	for _, p := range []string{"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=0.5"} {
		start := time.Now()
		resp, err := client.Get(url + p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || len(body) == 0 {
			t.Errorf("%s answered %d, %d bytes, %v:\n%.500s", p, resp.StatusCode, len(body), err, body)
		}
		if strings.Contains(p, "seconds=1") && time.Since(start) < time.Second {
			t.Errorf("%s was cut short: %v", p, time.Since(start))
		}
	}
}
