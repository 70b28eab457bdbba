package collector

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sink receives the series of a collection, one at a time: every one is a
// gauge of desc with these label values. It is a concrete type rather than
// a func so that the label values of a call stay on the caller's stack:
// a scrape of 5,000 databases makes 90,000 series.
type sink struct {
	// ch, when set, receives each series as a const metric (Collect);
	// else g gathers them (Gather).
	ch chan<- prometheus.Metric
	g  *gathering
}

func (s *sink) add(desc *prometheus.Desc, v float64, labels ...string) {
	if s.ch != nil {
		s.ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
		return
	}
	s.g.add(desc, v, labels)
}

// gathering builds the families of a collection. Its series are carved
// out of a few large slices rather than allocated one by one, so that a
// scrape's garbage is a few hundred objects, not half a million.
type gathering struct {
	byDesc map[*prometheus.Desc]*dto.MetricFamily
	// valid is false once a label value is not valid UTF-8.
	valid bool

	metrics []dto.Metric
	gauges  []dto.Gauge
	values  []float64
	pairs   []dto.LabelPair
	labels  []*dto.LabelPair
	strs    []string
}

// slabSize is how many elements each slice of a gathering holds.
const slabSize = 1024

// carve returns the next n elements of *s, making a new slice when *s is
// full. Elements already handed out keep their slice.
func carve[T any](s *[]T, n int) []T {
	if cap(*s)-len(*s) < n {
		*s = make([]T, 0, max(slabSize, n))
	}
	l := len(*s)
	*s = (*s)[:l+n]
	return (*s)[l : l+n : l+n]
}

func (g *gathering) add(desc *prometheus.Desc, v float64, labels []string) {
	f := families[desc]
	mf := g.byDesc[desc]
	if mf == nil {
		mf = &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: dto.MetricType_GAUGE.Enum()}
		g.byDesc[desc] = mf
	}
	m := &carve(&g.metrics, 1)[0]
	gauge := &carve(&g.gauges, 1)[0]
	value := &carve(&g.values, 1)[0]
	*value = v
	gauge.Value = value
	m.Gauge = gauge
	if len(labels) > 0 {
		pairs := carve(&g.pairs, len(labels))
		m.Label = carve(&g.labels, len(labels))
		strs := carve(&g.strs, len(labels))
		for i, j := range f.byName {
			g.valid = g.valid && utf8.ValidString(labels[j])
			strs[i] = labels[j]
			pairs[i].Name, pairs[i].Value = &f.labels[j], &strs[i]
			m.Label[i] = &pairs[i]
		}
	}
	mf.Metric = append(mf.Metric, m)
}

// Gather implements prometheus.Gatherer: the families a Registry would
// gather from Collect, made without one. A Registry passes each series
// through a channel and checks it against its Desc and the series before
// it; these series come from the fixed Descs of metrics.go with one set of
// label values each, so the checks cost a scrape as much again and can
// only find a label value that is not valid UTF-8. A collection with one
// is gathered through a Registry, which reports it as it always has.
func (r refreshed) Gather() ([]*dto.MetricFamily, error) {
	g := &gathering{byDesc: map[*prometheus.Desc]*dto.MetricFamily{}, valid: true}
	r.emit(&sink{g: g})
	if !g.valid {
		reg := prometheus.NewRegistry()
		if err := reg.Register(r); err != nil {
			return nil, err
		}
		return reg.Gather()
	}
	mfs := make([]*dto.MetricFamily, 0, len(g.byDesc))
	for _, mf := range g.byDesc {
		// Series come out in the order of the databases, mostly sorted
		// already.
		if !slices.IsSortedFunc(mf.Metric, compareLabels) {
			slices.SortFunc(mf.Metric, compareLabels)
		}
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, nil
}

// compareLabels orders the series of a family as a Registry does: by
// their label values, in the order of the label names.
func compareLabels(a, b *dto.Metric) int {
	if c := cmp.Compare(len(a.Label), len(b.Label)); c != 0 {
		return c
	}
	for i := range a.Label {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}
