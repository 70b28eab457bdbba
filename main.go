// Command upstash_backup_exporter is a Prometheus exporter that tells
// whether Upstash Redis backups are really happening. On each scrape it
// lists the backups of every watched database through Upstash's Developer
// API and exports their count, ages, sizes and states.
//
// This file is wiring only: flags, logging, configuration loading and
// reload, registries, HTTP routes and serving. Metrics are computed in
// collector/; the API is spoken in upstash/.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/lmittmann/tint"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/collector"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

const exporterName = "upstash_backup_exporter"

// options are the parsed command line.
type options struct {
	configFile    string
	configCheck   bool
	telemetryPath string
	apiTimeout    time.Duration
	maxRPS        float64
	maxRetryAfter time.Duration
	concurrency   int
	cacheTTL      time.Duration
	timeoutOffset time.Duration
	logLevel      string
	logFormat     string
	demo          bool
	enablePprof   bool
	webConfig     *web.FlagConfig
	// maxResponseBytes is not a flag: tests lower the client's body limit
	// to exercise it without sending 64 MiB. 0 keeps the client's default.
	maxResponseBytes int64
	// timeouts are not flags either: tests shorten them.
	timeouts serverTimeouts
}

func main() {
	bi, _ := debug.ReadBuildInfo()
	stampVersion(bi)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// fallbackVersion is the version of a build that tells none.
const fallbackVersion = "0.0.0-dev"

// stampVersion fills what the release ldflags (Makefile, Dockerfile) did
// not set, as after a plain go build or go install, from what the Go
// toolchain recorded of the build. The branch is not recorded, so it stays
// empty without ldflags.
func stampVersion(bi *debug.BuildInfo) {
	v, rev := buildVersion(bi)
	version.Version = cmp.Or(version.Version, v)
	version.Revision = cmp.Or(version.Revision, rev)
}

// buildVersion is the version and revision bi records: the main module's
// version unless it is "(devel)" (go run, or a build outside a VCS
// checkout), else fallbackVersion; and the VCS revision with "-dirty" when
// the tree had uncommitted changes, else "". bi may be nil.
func buildVersion(bi *debug.BuildInfo) (ver, revision string) {
	ver = fallbackVersion
	if bi == nil {
		return ver, ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		ver = v
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && revision != "" {
		revision += "-dirty"
	}
	return ver, revision
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	app := kingpin.New(exporterName, "Prometheus exporter for the backups of Upstash Redis databases.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	var o options
	app.Flag("config.file", "YAML configuration file. Without it, one account is read from UPSTASH_EMAIL and UPSTASH_API_KEY and all its databases are watched.").StringVar(&o.configFile)
	app.Flag("config.check", "Load and validate the configuration, print what would be watched, and exit.").BoolVar(&o.configCheck)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.telemetryPath)
	app.Flag("upstash.timeout", "Time limit for one Upstash API call.").Default("10s").DurationVar(&o.apiTimeout)
	app.Flag("upstash.max-requests-per-second", "Client-side limit of API calls per second, per account; 0 is unlimited.").Default("0").Float64Var(&o.maxRPS)
	app.Flag("upstash.max-retry-after", "Longest hold of a Retry-After: after a 429, the calls of that endpoint of the account (list-databases or list-backup) wait at most this long, whatever the API asks, and the next success ends the hold. upstash_backup_exporter_api_held_until_timestamp_seconds shows a hold in force. Must be positive.").Default(upstash.DefaultMaxRetryAfter.String()).DurationVar(&o.maxRetryAfter)
	app.Flag("upstash.concurrency", "list-backup calls in flight at once, per account.").Default("8").IntVar(&o.concurrency)
	app.Flag("upstash.cache-ttl", "Reuse a database's last answer for this long; 0 fetches on every scrape.").Default("0s").DurationVar(&o.cacheTTL)
	app.Flag("scrape.timeout-offset", "Subtracted from Prometheus' X-Prometheus-Scrape-Timeout-Seconds to get the collection deadline.").Default("0.5s").DurationVar(&o.timeoutOffset)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&o.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [text, logfmt, json]; logfmt and json are those of the other Prometheus components.").Default("text").EnumVar(&o.logFormat, "text", "logfmt", "json")
	app.Flag("web.enable-pprof", "Serve Go's runtime profiles (net/http/pprof) under /debug/pprof/ and link them from the landing page.").BoolVar(&o.enablePprof)
	app.Flag("demo", "Serve a built-in simulated Upstash API and watch it. Needs no credentials; the data is not real.").BoolVar(&o.demo)
	o.webConfig = kingpinflag.AddFlags(app, ":10035")
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')

	exited := false
	exitCode := 0
	app.Terminate(func(code int) { exited, exitCode = true, code })
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v, try --help\n", exporterName, err)
		return 2
	}
	if exited {
		return exitCode
	}
	if err := checkTelemetryPath(o.telemetryPath); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}
	if o.concurrency < 1 {
		fmt.Fprintf(stderr, "%s: error: --upstash.concurrency must be at least 1\n", exporterName)
		return 2
	}
	if o.apiTimeout <= 0 || o.maxRetryAfter <= 0 || o.cacheTTL < 0 || o.timeoutOffset < 0 || o.maxRPS < 0 {
		fmt.Fprintf(stderr, "%s: error: --upstash.timeout and --upstash.max-retry-after must be positive; --upstash.cache-ttl, --upstash.max-requests-per-second and --scrape.timeout-offset not negative\n", exporterName)
		return 2
	}

	logger := newLogger(stderr, o.logLevel, o.logFormat)

	if o.configCheck {
		cfg, err := loadConfig(o, getenv)
		if err != nil {
			fmt.Fprintf(stderr, "configuration is invalid: %v\n", redactError(keysNamedBy(o, getenv), err))
			return 1
		}
		fmt.Fprint(stdout, configRedactor(cfg).String(cfg.Describe()))
		return 0
	}

	if limit, ok := memoryLimit(getenv, cgroupMemoryMax); ok {
		debug.SetMemoryLimit(limit)
		logger.Info("Go memory limit set to 90% of the cgroup's memory.max", "limit_bytes", limit, "file", cgroupMemoryMax)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.demo {
		logger.Warn("Demo mode: reading a simulated Upstash API in process; every number on /metrics is made up, none comes from Upstash", "api_url", demo.BaseURL)
	}

	e, err := newExporter(o, logger, getenv)
	if err != nil {
		// err is redacted with the keys the configuration names.
		logger.Error("Could not load the configuration", "err", err)
		return 1
	}
	logger = e.logger
	logger.Info("Starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())
	logger.Info("Configuration loaded", "config_source", e.config().Source, "accounts", len(e.config().Accounts))

	server := e.newServer()
	reloads := make(chan chan error)
	e.reloadRequests = reloads
	var wg sync.WaitGroup
	wg.Go(func() { e.reloadLoop(ctx, reloads) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, o.webConfig, logger) }()

	code := 0
	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Could not serve HTTP", "err", err)
			code = 1
		}
	case <-ctx.Done():
		logger.Info("Shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := server.Shutdown(shutdownCtx); err != nil {
			logger.Warn("HTTP shutdown did not finish cleanly", "err", err)
		}
		cancel()
	}
	stop()
	wg.Wait()
	e.collector.Close()
	return code
}

// cgroupMemoryMax is the memory limit of the process's cgroup (v2), as a
// container sees it.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimit is the Go memory limit to set when GOMEMLIMIT is unset and
// the cgroup file at path holds a number rather than "max": 90% of it. The
// runtime then collects harder as the heap nears the cgroup's limit instead
// of being OOM-killed; the other 10% is for what the Go limit does not
// count, such as the kernel's buffers charged to the cgroup.
func memoryLimit(getenv func(string) string, path string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	b, err := readSmallFile(path, 64)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n / 10 * 9, true
}

// newLogger builds the slog logger of --log.level and --log.format: tint
// for text, coloured only on a terminal, and promslog's, as the other
// Prometheus components write them, for logfmt and json.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	if format == "logfmt" || format == "json" {
		cfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
		// Both values were checked by the flags' enums.
		_ = cfg.Level.Set(level)
		_ = cfg.Format.Set(format)
		return promslog.New(cfg)
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	return slog.New(tint.NewTextHandler(w, &tint.Options{
		Level:      lvl,
		TimeFormat: time.RFC3339,
		NoColor:    !isTerminal(w),
	}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// loadConfig reads the configuration the flags name: the demo account, the
// file, or the single account of the environment.
func loadConfig(o options, getenv func(string) string) (*collector.Config, error) {
	switch {
	case o.demo:
		return &collector.Config{
			Source: "built-in demo (simulated data)",
			Accounts: []collector.Account{{
				Name:         "demo",
				Email:        demo.Email,
				EmailSource:  "built-in demo",
				APIKey:       config.Secret(demo.APIKey),
				APIKeySource: "built-in demo",
				// Never resolved: the demo's Transport answers in process.
				APIURL: demo.BaseURL,
			}},
		}, nil
	case o.configFile != "":
		return collector.LoadConfig(o.configFile, getenv)
	default:
		return collector.ConfigFromEnv(getenv)
	}
}

// exporter holds what outlives one configuration: the registries, the
// current collector and the reload state.
type exporter struct {
	opts options
	// logger removes the keys of secrets from every record.
	logger *slog.Logger
	getenv func(string) string
	// demo answers the demo account's API calls in process; nil unless
	// --demo.
	demo   http.RoundTripper
	static *prometheus.Registry
	api    *collector.APIMetrics
	// collector is built once; reloads retarget it, so series keep their
	// last values across a reload.
	collector *collector.Collector
	// cfg is the configuration in force; nil until the first load.
	cfg atomic.Pointer[collector.Config]
	// secrets redacts every key the exporter knows: see secrets.go.
	// loadedSecrets are the keys of the configuration in force and of the
	// one before it; secrets adds to them the keys a failed load named.
	secrets       atomic.Pointer[redact.Redactor]
	loadedSecrets atomic.Pointer[redact.Redactor]
	// secretsMu orders the updates of secrets; configSecrets, which it
	// guards, are the keys of the configuration in force and those its
	// key files changed to since it was loaded.
	secretsMu     sync.Mutex
	configSecrets *redact.Redactor

	reloadOK          prometheus.Gauge
	reloadSuccessTime prometheus.Gauge
	reloadRequests    chan<- chan error
	renders           chan struct{}
	handlerOpts       promhttp.HandlerOpts
}

func newExporter(o options, logger *slog.Logger, getenv func(string) string) (*exporter, error) {
	e := &exporter{
		opts:    o,
		getenv:  getenv,
		static:  prometheus.NewRegistry(),
		renders: make(chan struct{}, maxConcurrentRenders),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upstash_backup_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load succeeded (1) or failed (0).",
		}),
		reloadSuccessTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upstash_backup_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load, in Unix seconds.",
		}),
	}
	e.logger = slog.New(redact.Handler(logger.Handler(), e.secrets.Load))
	e.handlerOpts = promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}
	e.static.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		e.reloadOK,
		e.reloadSuccessTime,
	)
	e.api = collector.NewAPIMetrics()
	e.static.MustRegister(e.api)
	if o.demo {
		e.demo = demo.New(time.Now)
	}

	cfg, err := loadConfig(o, getenv)
	if err == nil {
		e.collector, err = collector.New(cfg, e.newClient, collector.Options{
			Concurrency: o.concurrency,
			CacheTTL:    o.cacheTTL,
			Logger:      e.logger,
			KeyChanged:  e.keyChanged,
		})
	}
	if err != nil {
		return nil, e.failedLoad(cfg, err)
	}
	e.loaded(cfg)
	return e, nil
}

func (e *exporter) config() *collector.Config { return e.cfg.Load() }

func (e *exporter) loaded(cfg *collector.Config) {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	current := configRedactor(cfg)
	keys := redact.Join(current, e.configSecrets)
	e.configSecrets = current
	e.loadedSecrets.Store(keys)
	e.secrets.Store(keys)
	e.cfg.Store(cfg)
	e.reloadOK.Set(1)
	e.reloadSuccessTime.SetToCurrentTime()
}

// failedLoad adds the keys the failed configuration names (cfg's when it
// was read, and those found in the file and environment the flags name) to
// the redacted ones, and returns err without them.
func (e *exporter) failedLoad(cfg *collector.Config, err error) error {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	named := redact.Join(configRedactor(cfg), keysNamedBy(e.opts, e.getenv))
	keys := redact.Join(e.loadedSecrets.Load(), named)
	e.secrets.Store(keys)
	return redactError(keys, err)
}

// keyChanged adds a key read from a changed api_key_file to the redacted
// ones; the collector calls it before any call sends the key.
func (e *exporter) keyChanged(c redact.Credential) {
	r := newRedactor([]redact.Credential{c})
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	e.configSecrets = redact.Join(e.configSecrets, r)
	e.loadedSecrets.Store(redact.Join(e.loadedSecrets.Load(), r))
	e.secrets.Store(redact.Join(e.secrets.Load(), r))
}

// reload loads the configuration again and retargets the collector. On
// error the previous configuration stays in force.
func (e *exporter) reload() error {
	cfg, err := loadConfig(e.opts, e.getenv)
	if err == nil {
		err = e.collector.Reload(cfg)
	}
	if err != nil {
		e.reloadOK.Set(0)
		return e.failedLoad(cfg, err)
	}
	e.loaded(cfg)
	return nil
}

// newClient builds the Developer API client of one account. An account
// with http_client_config gets the transport prometheus/common builds from
// it (proxy, TLS); without one, the client's default transport, which
// honours HTTPS_PROXY and NO_PROXY.
func (e *exporter) newClient(a collector.Account) (collector.API, error) {
	cfg := upstash.Config{
		BaseURL:              a.APIURL,
		Email:                a.Email,
		APIKey:               string(a.APIKey),
		Timeout:              e.opts.apiTimeout,
		MaxResponseBytes:     e.opts.maxResponseBytes,
		Transport:            e.demo, // nil (the network) unless --demo
		MaxRequestsPerSecond: e.opts.maxRPS,
		Concurrency:          e.opts.concurrency,
		UserAgent:            exporterName + "/" + version.Version,
		Observe:              e.api.Observer(a.Name),
		MaxRetryAfter:        e.opts.maxRetryAfter,
		ObserveHold:          e.api.HoldObserver(a.Name),
	}
	if hc := a.HTTPClient; hc != nil && e.demo == nil {
		// Its idle pool keeps up to 1000 connections per host, more than
		// --upstash.concurrency calls in flight need; they close after
		// 5 minutes idle.
		rt, err := config.NewRoundTripperFromConfig(*hc, exporterName+"_"+a.Name)
		if err != nil {
			return nil, fmt.Errorf("http_client_config: %w", err)
		}
		cfg.Transport = rt
		cfg.FollowRedirects = hc.FollowRedirects
	}
	if a.Key != nil {
		cfg.Key = a.Key.Key
	}
	return upstash.New(cfg)
}

// reloadLoop serialises reloads from SIGHUP and /-/reload, so two never
// race.
func (e *exporter) reloadLoop(ctx context.Context, requests <-chan chan error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		var reply chan error
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case reply = <-requests:
		}
		err := e.reload()
		if err != nil {
			e.logger.Error("Could not reload the configuration; the previous one stays in force", "err", err)
		} else {
			e.logger.Info("Configuration reloaded", "config_source", e.config().Source, "accounts", len(e.config().Accounts))
		}
		if reply != nil {
			reply <- err
		}
	}
}
