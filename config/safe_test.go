package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSafeConfigReload: a load or an apply that fails leaves the
// configuration in force and sets last_reload_successful to 0; the next
// success sets it back and moves the success time.
func TestSafeConfigReload(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := NewSafeConfig(reg)
	if s.Get() != nil {
		t.Fatal("a configuration is in force before any load")
	}
	first := &Config{Source: "first"}
	ok := func(*Config) error { return nil }
	if _, err := s.Reload(func() (*Config, error) { return first, nil }, ok); err != nil || s.Get() != first {
		t.Fatalf("first load: %v, in force %v", err, s.Get())
	}
	want := func(successful string) {
		t.Helper()
		expected := "# HELP upstash_backup_exporter_config_last_reload_successful Whether the last configuration load succeeded (1) or failed (0).\n" +
			"# TYPE upstash_backup_exporter_config_last_reload_successful gauge\n" +
			"upstash_backup_exporter_config_last_reload_successful " + successful + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "upstash_backup_exporter_config_last_reload_successful"); err != nil {
			t.Error(err)
		}
	}
	want("1")
	if v := testutil.ToFloat64(s.lastSuccess); v <= 0 {
		t.Errorf("success time %v", v)
	}

	refused := &Config{Source: "refused"}
	got, err := s.Reload(func() (*Config, error) { return refused, nil }, func(*Config) error { return errors.New("no") })
	if err == nil || got != refused || s.Get() != first {
		t.Errorf("refused apply: %v, returned %v, in force %v", err, got, s.Get())
	}
	want("0")
	if _, err := s.Reload(func() (*Config, error) { return nil, errors.New("bad file") }, ok); err == nil || s.Get() != first {
		t.Errorf("failed load: %v, in force %v", err, s.Get())
	}
	want("0")
	second := &Config{Source: "second"}
	if _, err := s.Reload(func() (*Config, error) { return second, nil }, ok); err != nil || s.Get() != second {
		t.Errorf("second load: %v", err)
	}
	want("1")
}
