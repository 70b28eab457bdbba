package main

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDisjointGatherers checks that disjointGatherers gathers what
// prometheus.Gatherers does: the same families when the gatherers name
// none twice, and Gatherers' own answer and errors when they do.
func TestDisjointGatherers(t *testing.T) {
	t.Parallel()
	gauge := func(name, help string, labels ...string) prometheus.Collector {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		g.WithLabelValues(make([]string, len(labels))...).Set(1)
		return g
	}
	histogram := func(name string) prometheus.Collector {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: "h"})
		h.Observe(1)
		return h
	}
	registry := func(cs ...prometheus.Collector) *prometheus.Registry {
		r := prometheus.NewRegistry()
		r.MustRegister(cs...)
		return r
	}
	for _, tc := range []struct {
		name string
		a, b *prometheus.Registry
	}{
		{"disjoint", registry(gauge("b", "b"), gauge("d", "d", "x")), registry(gauge("a", "a"), gauge("c", "c"), histogram("e"))},
		{"one family in both", registry(gauge("a", "a", "x")), registry(gauge("a", "a", "y"))},
		{"one family, two helps", registry(gauge("a", "a")), registry(gauge("a", "other"))},
		{"a histogram's suffix", registry(histogram("h")), registry(gauge("h_count", "c"))},
		{"empty", registry(), registry()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := prometheus.Gatherers{tc.a, tc.b}.Gather()
			got, err := disjointGatherers{tc.a, tc.b}.Gather()
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("error %v, want %v", err, wantErr)
			}
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				t.Errorf("gathered\n%s\nwant\n%s", g, w)
			}
		})
	}
}
