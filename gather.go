package main

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// disjointGatherers joins what its gatherers gather, as
// prometheus.Gatherers does, when no family name is in two of them, as
// with the collector's series and the static registry: each gatherer has
// checked its own series, and prometheus.Gatherers would check every one
// again, as costly as making them. Anything else (an error, a family name
// or a histogram's suffix in two) goes to prometheus.Gatherers, which
// gathers again and reports it as it always has.
type disjointGatherers []prometheus.Gatherer

func (gs disjointGatherers) Gather() ([]*dto.MetricFamily, error) {
	var mfs []*dto.MetricFamily
	for _, g := range gs {
		got, err := g.Gather()
		if err != nil {
			return prometheus.Gatherers(gs).Gather()
		}
		mfs = append(mfs, got...)
	}
	names := make(map[string]bool, len(mfs))
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, mf := range mfs {
		base := mf.GetName()
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if base != mf.GetName() && names[base] {
			return prometheus.Gatherers(gs).Gather()
		}
	}
	if len(names) != len(mfs) {
		return prometheus.Gatherers(gs).Gather()
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, nil
}
