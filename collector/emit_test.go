package collector

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// TestGatherMatchesRegistry checks that a collection's own Gather gives
// what a Registry gathers from its Collect: the same families, series and
// order, and the Registry's own answer when a label value is not UTF-8.
func TestGatherMatchesRegistry(t *testing.T) {
	t.Parallel()
	cfg, apis := cast()
	bad := newStub()
	bad.databases = []upstash.Database{db("bad-13", "\xff", "free", true)}
	badCfg := []config.Account{{Name: "bad", Email: "ops@example.com", APIKey: "k4"}}
	for _, tc := range []struct {
		name string
		cfg  []config.Account
		apis map[string]*stubAPI
	}{
		{"every series", cfg, apis},
		{"a label value that is not UTF-8", badCfg, map[string]*stubAPI{"bad": bad}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock(t0)
			c := newTestCollector(t, tc.cfg, tc.apis, Options{Now: clk.now})
			for range 2 {
				r := c.Refresh(t.Context())
				got, err := r.(prometheus.Gatherer).Gather()
				reg := prometheus.NewRegistry()
				reg.MustRegister(r)
				want, wantErr := reg.Gather()
				// The errors quote stack traces, which differ.
				if (err == nil) != (wantErr == nil) {
					t.Errorf("Gather: %v, want %v", err, wantErr)
				}
				if g, w := text(t, got), text(t, want); g != w {
					t.Errorf("Gather gave\n%s\nwant\n%s", g, w)
				}
				clk.add(time.Minute)
			}
		})
	}
}

func text(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}
