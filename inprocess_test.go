package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// The tests in this file's siblings (faults, load, reload, secrets) build
// the exporter in-process, as run does, and talk to it through its real
// HTTP routes over loopback. That keeps them under -race and goleak, which
// the tests that run the binary cannot be.

// logBuffer collects log output and wakes waiters on every write, so a test
// waits for a log line instead of sleeping.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is a mark: since(Len()) is what was logged after it.
func (b *logBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *logBuffer) since(mark int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[mark:]
}

// waitFor waits until cond holds for the output logged after mark, or the
// test's context ends.
func (b *logBuffer) waitFor(t *testing.T, mark int, what string, cond func(string) bool) string {
	t.Helper()
	for {
		b.mu.Lock()
		text, changed := b.buf.String()[mark:], b.changed
		b.mu.Unlock()
		if cond(text) {
			return text
		}
		select {
		case <-changed:
		case <-t.Context().Done():
			t.Fatalf("never logged: %s\n%s", what, text)
		}
	}
}

// logRecord is one line of --log.format=json output.
type logRecord map[string]any

func (r logRecord) str(key string) string {
	s, _ := r[key].(string)
	return s
}

func parseLog(t *testing.T, text string) []logRecord {
	t.Helper()
	var records []logRecord
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var r logRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		records = append(records, r)
	}
	return records
}

// testExporter is an exporter built by newExporter and served by an
// httptest server.
type testExporter struct {
	*exporter
	url    string
	logs   *logBuffer
	cfg    string // path of the configuration file
	client *http.Client
}

// exporterOptions are the flags' defaults, with a file configuration and
// debug logs in JSON.
func exporterOptions(configFile string) options {
	return options{
		configFile:    configFile,
		telemetryPath: "/metrics",
		apiTimeout:    10 * time.Second,
		maxRetryAfter: upstash.DefaultMaxRetryAfter,
		// The flag's default.
		maxResponseBytes: upstash.DefaultMaxResponseBytes,
		concurrency:      8,
		timeoutOffset:    500 * time.Millisecond,
		logLevel:         "debug",
		logFormat:        "json",
	}
}

// startInProcess writes config to a file, builds the exporter with the
// options tune leaves, and serves its routes. Everything is stopped when the
// test ends: the collector first, so that calls it holds on the fake end.
func startInProcess(t *testing.T, config string, tune func(*options)) *testExporter {
	t.Helper()
	e, logs, path := buildInProcess(t, config, tune)
	srv := httptest.NewServer(e.routes())
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(func() {
		// The collector first, so that calls it holds on the fake end and
		// no scrape keeps srv.Close waiting. Close is idempotent.
		e.collector.Close()
		srv.Close()
		client.CloseIdleConnections()
	})
	return &testExporter{exporter: e, url: srv.URL, logs: logs, cfg: path, client: client}
}

// buildInProcess is startInProcess without serving: it returns the exporter,
// its log and the path of its configuration file. The collector is closed
// when the test ends.
func buildInProcess(t *testing.T, config string, tune func(*options)) (*exporter, *logBuffer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, path, config)
	o := exporterOptions(path)
	if tune != nil {
		tune(&o)
	}
	logs := newLogBuffer()
	e, err := newExporter(o, newLogger(logs, o.logLevel, o.logFormat), func(string) string { return "" })
	if err != nil {
		t.Fatalf("newExporter: %v", err)
	}
	t.Cleanup(e.collector.Close)
	return e, logs, path
}

// startReloadLoop starts the goroutine run starts for SIGHUP and /-/reload,
// stopped when the test ends.
func (te *testExporter) startReloadLoop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reloads := make(chan chan error)
	te.reloadRequests = reloads
	var wg sync.WaitGroup
	wg.Go(func() { te.reloadLoop(ctx, reloads) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// scrapeWithin scrapes /metrics as Prometheus does with scrape_timeout
// timeout: it sends the timeout in X-Prometheus-Scrape-Timeout-Seconds and
// gives up on the request scrapeGrace after it passes. Anything but a 200
// in time fails the test.
func (te *testExporter) scrapeWithin(t *testing.T, timeout time.Duration) string {
	t.Helper()
	code, body, err := te.tryScrape(t.Context(), timeout)
	if err != nil {
		t.Fatalf("/metrics did not answer within the scrape timeout of %s: %v", timeout, err)
	}
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d:\n%s", code, body)
	}
	return body
}

// scrapeGrace is how much longer than the scrape timeout a test waits for
// /metrics. The exporter answers at the timeout minus --scrape.timeout-offset
// (0.5 s here); on a loaded 2-core machine under -race, building and
// sending the answer can take longer than that. A call the exporter would
// wait for instead hangs past the scrape timeout by more than this (the
// fault matrix's last 2 s longer), so such a wait still fails the test.
const scrapeGrace = time.Second

func (te *testExporter) tryScrape(ctx context.Context, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+scrapeGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, te.url+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	resp, err := te.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (te *testExporter) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	return httpDoWith(t, te.client, method, te.url+path, nil)
}

// apiRequests reads upstash_backup_exporter_api_requests_total from the
// static registry, without starting a collection, keyed by
// "account endpoint code".
func (te *testExporter) apiRequests(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := te.static.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "upstash_backup_exporter_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			counts[labelValue(m, "account")+" "+labelValue(m, "endpoint")+" "+labelValue(m, "code")] = m.GetCounter().GetValue()
		}
	}
	return counts
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// delta is after minus before, leaving out keys that did not change.
func delta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// series parses an exposition into "name{labels}" -> value. promhttp writes
// labels sorted, so the keys are canonical.
func series(exposition string) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(exposition, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		out[line[:i]] = line[i+1:]
	}
	return out
}

// databaseSeries keeps the series of one database_id.
func databaseSeries(all map[string]string, databaseID string) map[string]string {
	out := map[string]string{}
	label := `database_id="` + databaseID + `"`
	for k, v := range all {
		if strings.Contains(k, label) {
			out[k] = v
		}
	}
	return out
}

// without drops the series of the named metrics.
func without(s map[string]string, names ...string) map[string]string {
	out := map[string]string{}
	for k, v := range s {
		name, _, _ := strings.Cut(k, "{")
		drop := false
		for _, n := range names {
			if name == n {
				drop = true
			}
		}
		if !drop {
			out[k] = v
		}
	}
	return out
}

// diffSeries describes how got differs from want, "" when equal.
func diffSeries(want, got map[string]string) string {
	var lines []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			lines = append(lines, fmt.Sprintf("- %s %s", k, v))
		} else if g != v {
			lines = append(lines, fmt.Sprintf("~ %s %s, want %s", k, g, v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("+ %s %s", k, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// accountConfig is a configuration of one discovering account of fake,
// with its key in a file.
func accountConfig(t *testing.T, name, email, key string, fake *upstashtest.Server) string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), name+".key")
	writeFile(t, keyFile, key+"\n")
	return fmt.Sprintf("accounts:\n  - name: %s\n    email: %s\n    api_key_file: %s\n    api_url: %s\n", name, email, keyFile, fake.URL)
}
