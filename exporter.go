package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/version"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/collector"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// loadConfig reads the configuration the flags name: the demo account, the
// file, or the single account of the environment.
func loadConfig(o options, getenv func(string) string) (*config.Config, error) {
	switch {
	case o.demo:
		return &config.Config{
			Source: "built-in demo (simulated data)",
			Accounts: []config.Account{{
				Name:         "demo",
				Email:        demo.Email,
				EmailSource:  "built-in demo",
				APIKey:       promconfig.Secret(demo.APIKey),
				APIKeySource: "built-in demo",
				// Never resolved: the demo's Transport answers in process.
				APIURL: demo.BaseURL,
				// The daily databases keep 7 backups: 6 days of restore
				// points, which inventory's missing day breaks.
				RequiredRetention: 6 * 24 * time.Hour,
			}},
		}, nil
	case o.configFile != "":
		return config.Load(o.configFile, getenv)
	default:
		return config.FromEnv(getenv)
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
	// config is the configuration in force; nil until the first load.
	config *config.SafeConfig
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

	reloadRequests chan<- chan error
	renders        chan struct{}
	handlerOpts    promhttp.HandlerOpts
}

func newExporter(o options, logger *slog.Logger, getenv func(string) string) (*exporter, error) {
	e := &exporter{
		opts:    o,
		getenv:  getenv,
		static:  prometheus.NewRegistry(),
		renders: make(chan struct{}, maxConcurrentRenders),
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
	)
	e.config = config.NewSafeConfig(e.static)
	e.static.MustRegister(constGauge("upstash_backup_exporter_shard_index", "Which of the replicas sharing the databases this is (--shard.index).", o.shard.Index),
		constGauge("upstash_backup_exporter_shards", "How many replicas share the databases (--shard.count); 1 when not sharded.", o.shard.Count))
	e.api = collector.NewAPIMetrics()
	e.static.MustRegister(e.api)
	if o.demo {
		e.demo = demo.New(time.Now)
	}

	cfg, err := e.config.Reload(e.load, func(cfg *config.Config) error {
		var err error
		e.collector, err = collector.New(cfg.Accounts, e.newClient, collector.Options{
			Concurrency: o.concurrency,
			CacheTTL:    o.cacheTTL,
			Logger:      e.logger,
			Shard:       o.shard,
		})
		return err
	})
	if err != nil {
		return nil, e.failedLoad(cfg, err)
	}
	e.loaded(cfg)
	return e, nil
}

// load reads the configuration the flags name.
func (e *exporter) load() (*config.Config, error) { return loadConfig(e.opts, e.getenv) }

// loaded makes the keys of cfg, now in force, the redacted ones.
func (e *exporter) loaded(cfg *config.Config) {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	current := configRedactor(cfg)
	keys := redact.Join(current, e.configSecrets)
	e.configSecrets = current
	e.loadedSecrets.Store(keys)
	e.secrets.Store(keys)
}

// failedLoad adds the keys the failed configuration names (cfg's when it
// was read, and those found in the file and environment the flags name) to
// the redacted ones, and returns err without them.
func (e *exporter) failedLoad(cfg *config.Config, err error) error {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	named := redact.Join(configRedactor(cfg), keysNamedBy(e.opts, e.getenv))
	keys := redact.Join(e.loadedSecrets.Load(), named)
	e.secrets.Store(keys)
	return keys.Error(err)
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
	cfg, err := e.config.Reload(e.load, func(cfg *config.Config) error { return e.collector.Reload(cfg.Accounts) })
	if err != nil {
		return e.failedLoad(cfg, err)
	}
	e.loaded(cfg)
	return nil
}

// newClient builds the Developer API client of one account. An account
// with http_client_config gets the transport prometheus/common builds from
// it (proxy, TLS); without one, the client's default transport, which
// honours HTTPS_PROXY and NO_PROXY.
func (e *exporter) newClient(a config.Account) (collector.API, error) {
	cfg := upstash.Config{
		BaseURL:              a.APIURL,
		Email:                a.Email,
		APIKey:               string(a.APIKey),
		Timeout:              e.opts.apiTimeout,
		MaxResponseBytes:     int64(e.opts.maxResponseBytes),
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
		rt, err := promconfig.NewRoundTripperFromConfig(*hc, exporterName+"_"+a.Name)
		if err != nil {
			return nil, fmt.Errorf("http_client_config: %w", err)
		}
		cfg.Transport = rt
		cfg.FollowRedirects = hc.FollowRedirects
	}
	// A key of api_key_file is read again when the file changes.
	cfg.Key = config.NewKeySource(a, e.logger.With("account", a.Name), e.keyChanged).Key
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
			e.logger.Info("Configuration reloaded", "config_source", e.config.Get().Source, "accounts", len(e.config.Get().Accounts))
		}
		if reply != nil {
			reply <- err
		}
	}
}

// constGauge is a gauge of a flag's value, such as the shard's: two
// replicas that claim the same index, or disagree on the count, show on
// /metrics.
func constGauge(name, help string, v int) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	g.Set(float64(v))
	return g
}
