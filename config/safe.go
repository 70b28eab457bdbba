package config

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// SafeConfig is the configuration in force, replaced as a whole by each
// successful reload, with the reload metrics of every Prometheus
// component.
type SafeConfig struct {
	// mu serialises reloads, so two never race.
	mu  sync.Mutex
	cfg atomic.Pointer[Config]

	lastOK      prometheus.Gauge
	lastSuccess prometheus.Gauge
}

// NewSafeConfig returns a SafeConfig with no configuration in force yet and
// registers its metrics with reg.
func NewSafeConfig(reg prometheus.Registerer) *SafeConfig {
	s := &SafeConfig{
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upstash_backup_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load succeeded (1) or failed (0).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "upstash_backup_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load, in Unix seconds.",
		}),
	}
	reg.MustRegister(s.lastOK, s.lastSuccess)
	return s
}

// Get is the configuration in force; nil before the first successful load.
func (s *SafeConfig) Get() *Config { return s.cfg.Load() }

// Reload loads a configuration with load and hands it to apply; when both
// succeed it is the configuration in force. On error the previous one stays
// in force. It returns what load returned, so that the caller can redact
// the keys of a configuration that apply refused.
func (s *SafeConfig) Reload(load func() (*Config, error), apply func(*Config) error) (*Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := load()
	if err == nil {
		err = apply(cfg)
	}
	if err != nil {
		s.lastOK.Set(0)
		return cfg, err
	}
	s.cfg.Store(cfg)
	s.lastOK.Set(1)
	s.lastSuccess.SetToCurrentTime()
	return cfg, nil
}
