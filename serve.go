package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// serverTimeouts bound how long one client can hold a connection. They are
// not flags; tests shorten them. A zero field takes its default.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
}

// defaultServerTimeouts: every request the exporter serves is a GET or a
// POST without a body, and every answer but /metrics is a few bytes, so
// these only ever cut clients that stopped sending or reading.
var defaultServerTimeouts = serverTimeouts{
	// A request's headers are a few hundred bytes.
	readHeader: 10 * time.Second,
	// No route reads a body, so reading a whole request is reading its
	// headers; a little more than readHeader for a slow link.
	read: 15 * time.Second,
	// The time to write an answer. /metrics starts this clock when its
	// answer is built, not when its request arrived (see serveMetrics):
	// 30s takes a 3 MB uncompressed answer (about 2,000 databases) over a
	// link of 1 Mbit/s, and a client slower than that is stuck, not slow.
	// A stuck client costs its own connection and the memory of its
	// answer until then, nothing else.
	write: 30 * time.Second,
	// Keep-alive connections are kept across scrapes (Prometheus' default
	// interval is 1m) and closed after 2 minutes unused.
	idle: 2 * time.Minute,
}

func (o options) serverTimeouts() serverTimeouts {
	t := o.timeouts
	d := defaultServerTimeouts
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.readHeader, &d.readHeader}, {&t.read, &d.read}, {&t.write, &d.write}, {&t.idle, &d.idle},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// newServer is the HTTP server of the exporter's routes.
func (e *exporter) newServer() *http.Server {
	t := e.opts.serverTimeouts()
	return &http.Server{
		Handler:           e.routes(),
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
	}
}

// otherRoutes are the paths served besides --web.telemetry-path.
var otherRoutes = []string{"/", "/-/healthy", "/-/ready", "/-/reload"}

// checkTelemetryPath tells what is wrong with --web.telemetry-path, in
// one line.
func checkTelemetryPath(p string) error {
	switch {
	case p == "":
		return errors.New("--web.telemetry-path must not be empty")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("--web.telemetry-path must start with \"/\", got %q", p)
	case slices.Contains(otherRoutes, p):
		return fmt.Errorf("--web.telemetry-path %q is the path of another route (%s)", p, strings.Join(otherRoutes, ", "))
	case strings.HasPrefix(p, "/debug/pprof/"):
		return fmt.Errorf("--web.telemetry-path %q is under /debug/pprof/, kept for --web.enable-pprof", p)
	}
	return nil
}

func (e *exporter) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if e.config.Get() == nil {
			http.Error(w, "No configuration loaded.", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "Ready.\n")
	})
	mux.HandleFunc("/-/reload", e.serveReload)
	desc := "Tells whether Upstash Redis backups are really happening."
	if e.opts.demo {
		desc += " DEMO MODE: the data is simulated, none of it comes from Upstash."
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "Upstash backup exporter",
		Description: desc,
		Version:     version.Info(),
		// The page links /debug/pprof/heap and /debug/pprof/profile unless
		// told "false"; they are served only with --web.enable-pprof.
		Profiling: strconv.FormatBool(e.opts.enablePprof),
		Links: []web.LandingLinks{
			{Address: e.opts.telemetryPath, Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		e.logger.Error("Could not build the landing page", "err", err)
	} else {
		mux.Handle("/", landing)
	}
	if e.opts.enablePprof {
		handlePprof(mux)
	}
	// The telemetry path is matched exactly, not as a ServeMux pattern, so
	// that no value of the flag has a pattern's meaning (a wildcard, a
	// method, a subtree).
	metrics := promhttp.InstrumentMetricHandler(e.static, http.HandlerFunc(e.serveMetrics))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == e.opts.telemetryPath {
			metrics.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// handlePprof serves net/http/pprof under /debug/pprof/ on mux, as the
// package does on http.DefaultServeMux, which the exporter does not serve.
// Profile and Trace move their own write deadline past the ?seconds= they
// run for, so the landing page's 60 s CPU profile outlasts the server's
// timeouts.
func handlePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// serveMetrics collects with a deadline taken from Prometheus' scrape
// timeout, so that /metrics answers in time whatever the API does. The
// answer is built in memory and only then written, after the render slot
// is released: a client that does not read holds its own connection until
// the write deadline, never a slot other scrapes wait for.
func (e *exporter) serveMetrics(w http.ResponseWriter, r *http.Request) {
	timeout := e.collectionTimeout(r)
	writeTimeout := e.opts.serverTimeouts().write
	// The server's WriteTimeout runs from the request's arrival, and a
	// collection may last up to the scrape timeout, longer than that. Over
	// HTTP/2 the stream is reset when the deadline passes, even while the
	// handler has written nothing, so this request moves its deadline past
	// its collection now, and gives the write writeTimeout from when the
	// answer is built. An error means the writer cannot move deadlines;
	// the server's then stands.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(timeout + writeTimeout))

	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	refreshed := e.collector.Refresh(ctx)

	// Building the answer is where a scrape's memory goes (about 1 KiB a
	// series), so only a few scrapes build at once. They wait after
	// Refresh, so scrapes that arrive together still share one refresh.
	select {
	case e.renders <- struct{}{}:
	case <-r.Context().Done():
		return // Prometheus gave up on this scrape.
	}
	// The collection gathers its own series, without the checks of a
	// registry, which would find nothing and cost as much as the series
	// themselves (collector.refreshed.Gather).
	collected, ok := refreshed.(prometheus.Gatherer)
	if !ok {
		perScrape := prometheus.NewRegistry()
		perScrape.MustRegister(refreshed)
		collected = perScrape
	}
	// promhttp still negotiates the format and the compression and reports
	// its errors; only the client is kept out of the slot.
	answer := &answerBuffer{header: http.Header{}}
	promhttp.HandlerFor(disjointGatherers{collected, e.static}, e.handlerOpts).ServeHTTP(answer, r)
	<-e.renders

	for k, v := range answer.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(answer.body.Len()))
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	w.WriteHeader(answer.status())
	if _, err := w.Write(answer.body.Bytes()); err != nil {
		e.logger.Debug("A client did not take its /metrics answer; its connection is closed",
			"remote", r.RemoteAddr, "bytes", answer.body.Len(), "write_timeout", writeTimeout, "err", err)
	}
}

// answerBuffer is an http.ResponseWriter that keeps the answer in memory.
type answerBuffer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *answerBuffer) Header() http.Header { return b.header }

func (b *answerBuffer) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *answerBuffer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *answerBuffer) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

// maxConcurrentRenders bounds the scrapes that build their answer at once.
const maxConcurrentRenders = 4

// defaultScrapeTimeout is assumed when the scrape does not say its own
// (curl, a browser): Prometheus' default scrape_timeout.
const defaultScrapeTimeout = 10 * time.Second

// minCollectionTimeout keeps a tiny or mistaken header from starving the
// collection altogether.
const minCollectionTimeout = 100 * time.Millisecond

func (e *exporter) collectionTimeout(r *http.Request) time.Duration {
	timeout := defaultScrapeTimeout
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 && secs < 1e6 {
			timeout = time.Duration(secs * float64(time.Second))
		}
	}
	timeout -= e.opts.timeoutOffset
	return max(timeout, minCollectionTimeout)
}

// serveReload asks the reload goroutine for a reload and reports its
// result.
func (e *exporter) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
		return
	}
	reply := make(chan error, 1)
	select {
	case e.reloadRequests <- reply:
	case <-r.Context().Done():
		return
	}
	select {
	case err := <-reply:
		if err != nil {
			// reload redacted err already; this is the last text out.
			http.Error(w, "Failed to reload the configuration: "+e.secrets.Load().String(err.Error()), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "Configuration reloaded.\n")
	case <-r.Context().Done():
	}
}
