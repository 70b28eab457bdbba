// Command upstash_backup_exporter is a Prometheus exporter that tells
// whether Upstash Redis backups are really happening. On each scrape it
// lists the backups of every watched database through Upstash's Developer
// API and exports their count, ages, sizes and states.
//
// This file is the command line: flags and run. exporter.go holds what
// outlives one configuration (registries, reload), serve.go and gather.go
// the HTTP side, once.go and once_table.go the --once report, secrets.go
// the keys every output is redacted with, logging.go, memlimit.go and
// version.go the process set-up. The configuration is read in config/,
// metrics are computed in collector/, and the API is spoken in upstash/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
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
	shard         collector.Shard
	shardPodName  string
	once          bool
	output        string
	webConfig     *web.FlagConfig
	// maxResponseBytes bounds what is read of one API answer.
	maxResponseBytes units.Base2Bytes
	// timeouts are not flags either: tests shorten them.
	timeouts serverTimeouts
}

func main() {
	bi, _ := debug.ReadBuildInfo()
	stampVersion(bi)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
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
	app.Flag("upstash.max-response-size", "Longest API answer read; a longer one is refused (class too_large). Answers are decoded as they arrive, so memory does not grow with it.").Default("64MiB").BytesVar(&o.maxResponseBytes)
	app.Flag("upstash.concurrency", "list-backup calls in flight at once, per account.").Default("8").IntVar(&o.concurrency)
	app.Flag("upstash.cache-ttl", "Reuse a database's last answer for this long; 0 fetches on every scrape.").Default("0s").DurationVar(&o.cacheTTL)
	app.Flag("scrape.timeout-offset", "Subtracted from Prometheus' X-Prometheus-Scrape-Timeout-Seconds to get the collection deadline.").Default("0.5s").DurationVar(&o.timeoutOffset)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&o.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [text, logfmt, json]; logfmt and json are those of the other Prometheus components.").Default("text").EnumVar(&o.logFormat, "text", "logfmt", "json")
	app.Flag("web.enable-pprof", "Serve Go's runtime profiles (net/http/pprof) under /debug/pprof/ and link them from the landing page.").BoolVar(&o.enablePprof)
	app.Flag("shard.count", "Number of replicas that share the databases; each reads those whose hash of database_id modulo this is its --shard.index.").Default("1").IntVar(&o.shard.Count)
	app.Flag("shard.index", "Which of the --shard.count replicas this is, from 0.").Default("0").IntVar(&o.shard.Index)
	app.Flag("shard.pod-name", "StatefulSet pod name whose ordinal suffix (name-2) is the --shard.index; set it from the downward API's metadata.name.").StringVar(&o.shardPodName)
	app.Flag("once", "Read every account once, print a status table (database, latest state, last completed, size, restore window, verdict) and exit: 0 when every database is healthy, 1 when one is not, 2 on a configuration or API error.").BoolVar(&o.once)
	app.Flag("output", "Format of --once: text or json.").Default("text").EnumVar(&o.output, "text", "json")
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
	if err := checkFlags(&o); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}

	logger := newLogger(stderr, o.logLevel, o.logFormat)

	if o.configCheck {
		cfg, err := loadConfig(o, getenv)
		if err != nil {
			keys := redact.Join(configRedactor(cfg), keysNamedBy(o, getenv))
			fmt.Fprintf(stderr, "configuration is invalid: %v\n", keys.Error(err))
			return 1
		}
		fmt.Fprint(stdout, configRedactor(cfg).String(cfg.String()))
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
		if o.once {
			return onceBroken
		}
		return 1
	}
	if o.once {
		defer e.collector.Close()
		return runOnce(ctx, e, collector.DefaultRefreshTimeout+5*time.Second, o.output, stdout, time.Now())
	}
	logger = e.logger
	logger.Info("Starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())
	logger.Info("Configuration loaded", "config_source", e.config.Get().Source, "accounts", len(e.config.Get().Accounts))

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

// checkFlags tells, in one line, the first flag whose value cannot work.
// It sets the shard index from --shard.pod-name.
func checkFlags(o *options) error {
	if err := checkTelemetryPath(o.telemetryPath); err != nil {
		return err
	}
	if o.shardPodName != "" {
		i := strings.LastIndexByte(o.shardPodName, '-')
		n, err := strconv.Atoi(o.shardPodName[i+1:])
		if i < 0 || err != nil || n < 0 {
			return fmt.Errorf("--shard.pod-name %q does not end in -<ordinal>, as a StatefulSet's pods do", o.shardPodName)
		}
		if o.shard.Index != 0 && o.shard.Index != n {
			return fmt.Errorf("--shard.index %d and --shard.pod-name %q disagree; set one", o.shard.Index, o.shardPodName)
		}
		o.shard.Index = n
	}
	if o.shard.Count < 1 || o.shard.Index < 0 || o.shard.Index >= o.shard.Count {
		return fmt.Errorf("--shard.index must be from 0 to --shard.count - 1 (%d), got %d", o.shard.Count-1, o.shard.Index)
	}
	for _, f := range []struct {
		name string
		bad  bool
		want string
	}{
		{"--upstash.concurrency", o.concurrency < 1, "must be at least 1"},
		{"--upstash.timeout", o.apiTimeout <= 0, "must be positive"},
		{"--upstash.max-retry-after", o.maxRetryAfter <= 0, "must be positive"},
		{"--upstash.max-response-size", o.maxResponseBytes <= 0, "must be positive"},
		{"--upstash.cache-ttl", o.cacheTTL < 0, "must not be negative"},
		{"--upstash.max-requests-per-second", o.maxRPS < 0, "must not be negative"},
		{"--scrape.timeout-offset", o.timeoutOffset < 0, "must not be negative"},
	} {
		if f.bad {
			return fmt.Errorf("%s %s", f.name, f.want)
		}
	}
	return nil
}
