package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/collector"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// The fault-to-alert matrix: each case runs the real collector, with the
// real Upstash client, against the fake API on a simulated clock, and
// scrapes it every 5 minutes as Prometheus would, through exporter restarts
// and faults. The series of every scrape (rendered as exposition text and
// parsed back) become the input series of a promtool unit test, with the
// job and instance labels Prometheus adds, stale markers where a series or a
// whole target goes away, and up for each scrape. The test asserts, at
// chosen times, exactly which alerts of deploy/prometheus/alerts.yml fire:
// the one(s) the fault calls for, and nothing for the healthy databases.
//
// The rules are the shipped ones with their annotations removed: the
// annotations are checked by deploy/prometheus/alerts_test.yml, this matrix
// checks which alerts fire on the series the exporter really emits.
//
// It needs promtool (Debian's prometheus package): without it the test
// skips, or fails when CI=true. ALERT_MATRIX_KEEP=<dir> keeps the generated
// promtool files there for a look.

const (
	amJob     = "upstash_backup_exporter"
	amStep    = 5 * time.Minute
	amRules   = "deploy/prometheus/alerts.yml"
	amRecords = "deploy/prometheus/rules.yml" // recording rules the RPO alerts read
	amAccount = "production"
	amEmail   = "ops@example.com"
	amKey     = "alert-matrix-key-6d1e0b9c47a2"

	amStale   = "db-stale"   // daily; its newest completed backup is 25h old at the start
	amDaily   = "db-daily"   // daily, healthy
	amHourly  = "db-hourly"  // hourly, healthy
	amStaging = "db-staging" // hourly, healthy, in another account on another server

	amInstanceA = "exporter-a:10035"
	amInstanceB = "exporter-b:10035"
)

// amStart is when the first scrape happens. promtool's clock starts at the
// Unix epoch; three days later leaves room for backups older than the
// start, whose creation_time must be positive.
var amStart = time.Unix(3*86400, 0).UTC()

type amClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *amClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *amClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// amHarness is one case: the fake APIs, the clock, and the series recorded
// at each scrape time.
type amHarness struct {
	t       *testing.T
	clock   *amClock
	prod    *upstashtest.Server
	staging *upstashtest.Server
	// step is the index of the next scrape time, from amStart.
	step int
	// series holds, by series, its value at each step it was scraped.
	series map[string]map[int]float64
}

func newAMHarness(t *testing.T) *amHarness {
	t.Helper()
	clock := &amClock{t: amStart}
	h := &amHarness{
		t:       t,
		clock:   clock,
		prod:    upstashtest.NewServer(upstashtest.WithClock(clock.Now), upstashtest.WithCredentials(amEmail, amKey), upstashtest.WithRequestLogLimit(0)),
		staging: upstashtest.NewServer(upstashtest.WithClock(clock.Now), upstashtest.WithRequestLogLimit(0)),
		series:  map[string]map[int]float64{},
	}
	t.Cleanup(h.prod.Close)
	t.Cleanup(h.staging.Close)
	return h
}

// amHourlyBackups are three completed hourly backups, the newest at the
// start of the hour.
func amHourlyBackups(id string) func(time.Time) []upstashtest.Backup {
	return func(now time.Time) []upstashtest.Backup {
		backups := upstashtest.GenerateBackups(id, 3, now.Truncate(time.Hour), time.Hour)
		for i := range backups {
			backups[i].DailyBackup, backups[i].HourlyBackup = "false", "true"
		}
		return backups
	}
}

// amDailyBackups are three completed daily backups, the newest at midnight.
func amDailyBackups(id string) func(time.Time) []upstashtest.Backup {
	return func(now time.Time) []upstashtest.Backup {
		return upstashtest.GenerateBackups(id, 3, now.Truncate(24*time.Hour), 24*time.Hour)
	}
}

// castHealthy adds the healthy daily and hourly databases of production
// and the staging account's database.
func (h *amHarness) castHealthy() {
	h.prod.AddDatabase(upstashtest.Database{ID: amDaily, Name: "sessions", DailyBackupEnabled: true})
	h.prod.SetBackupsFunc(amDaily, amDailyBackups(amDaily))
	h.prod.AddDatabase(upstashtest.Database{ID: amHourly, Name: "events", DailyBackupEnabled: true})
	h.prod.SetBackupsFunc(amHourly, amHourlyBackups(amHourly))
	h.staging.AddDatabase(upstashtest.Database{ID: amStaging, Name: "cache", DailyBackupEnabled: true})
	h.staging.SetBackupsFunc(amStaging, amHourlyBackups(amStaging))
}

// castStale adds the database whose backups stopped: its newest completed
// backup is 25 hours old at the start, so UpstashBackupNoRecentCompleted
// fires for it from about 1h10m on.
func (h *amHarness) castStale() {
	h.prod.AddDatabase(upstashtest.Database{ID: amStale, Name: "orders", DailyBackupEnabled: true})
	h.prod.SetBackups(amStale, upstashtest.GenerateBackups(amStale, 2, amStart.Add(-25*time.Hour), 24*time.Hour))
}

// config returns the configuration: production under accountName, in
// discovery mode or with the given databases, and the staging account.
func (h *amHarness) config(accountName string, databases ...string) []config.Account {
	prod := config.Account{Name: accountName, Email: amEmail, APIKey: promconfig.Secret(amKey), APIURL: h.prod.URL}
	for _, id := range databases {
		prod.Databases = append(prod.Databases, config.Database{ID: id})
	}
	staging := config.Account{Name: "staging", Email: upstashtest.DefaultEmail, APIKey: upstashtest.DefaultAPIKey, APIURL: h.staging.URL}
	return []config.Account{prod, staging}
}

// amExporter is one exporter process: a collector and its API metrics,
// scraped under one instance label.
type amExporter struct {
	instance string
	c        *collector.Collector
	api      *collector.APIMetrics
	// scrapeTimeout is the scrape's deadline; 10s when zero.
	scrapeTimeout time.Duration
	// settle lets the refresh a scrape started finish before the next
	// scrape, as the 5 minutes between them would.
	settle bool
}

// start starts an exporter process, as run does with the flags' defaults.
func (h *amHarness) start(instance string, accounts []config.Account, opts collector.Options) *amExporter {
	h.t.Helper()
	e := &amExporter{instance: instance, api: collector.NewAPIMetrics()}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	h.t.Cleanup(transport.CloseIdleConnections)
	newAPI := func(a config.Account) (collector.API, error) {
		return upstash.New(upstash.Config{
			BaseURL:     a.APIURL,
			Email:       a.Email,
			APIKey:      string(a.APIKey),
			Timeout:     5 * time.Second,
			Transport:   transport,
			Concurrency: max(opts.Concurrency, 1),
			Observe:     e.api.Observer(a.Name),
			ObserveHold: e.api.HoldObserver(a.Name),
			Now:         h.clock.Now,
			// Retries happen at once: the clock is simulated.
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		})
	}
	opts.Now = h.clock.Now
	c, err := collector.New(accounts, newAPI, opts)
	if err != nil {
		h.t.Fatalf("collector.New: %v", err)
	}
	e.c = c
	h.t.Cleanup(c.Close)
	return e
}

// stop ends the process, as a kill does.
func (e *amExporter) stop() { e.c.Close() }

// tick is one scrape time: every exporter in live is scraped, every
// instance in down fails its scrape (up 0). Then the clock moves on.
func (h *amHarness) tick(live []*amExporter, down ...string) {
	h.t.Helper()
	for _, e := range live {
		h.scrape(e)
	}
	for _, instance := range down {
		h.record(model.Metric{model.MetricNameLabel: "up", "job": amJob, "instance": model.LabelValue(instance)}, 0)
	}
	h.step++
	h.clock.add(amStep)
}

// run ticks for d with the exporters in live.
func (h *amHarness) run(d time.Duration, live ...*amExporter) {
	h.t.Helper()
	for range int(d / amStep) {
		h.tick(live)
	}
}

// at is the time since amStart of the next scrape.
func (h *amHarness) at() time.Duration { return time.Duration(h.step) * amStep }

func (h *amHarness) scrape(e *amExporter) {
	h.t.Helper()
	timeout := e.scrapeTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(h.t.Context(), timeout)
	view := e.c.Refresh(ctx)
	cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(view, e.api)
	mfs, err := reg.Gather()
	if err != nil {
		h.t.Fatalf("gather at %s: %v", h.at(), err)
	}
	var text bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			h.t.Fatal(err)
		}
	}
	if e.settle {
		e.c.Refresh(h.t.Context())
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(&text)
	if err != nil {
		h.t.Fatalf("exposition at %s does not parse: %v\n%s", h.at(), err, text.String())
	}
	target := model.LabelSet{"job": amJob, "instance": model.LabelValue(e.instance)}
	for name, mf := range parsed {
		for _, m := range mf.GetMetric() {
			h.recordMetric(name, mf.GetType(), m, target)
		}
	}
	h.record(model.Metric{model.MetricNameLabel: "up", "job": amJob, "instance": model.LabelValue(e.instance)}, 1)
}

func (h *amHarness) recordMetric(name string, typ dto.MetricType, m *dto.Metric, target model.LabelSet) {
	base := model.Metric{}
	for _, lp := range m.GetLabel() {
		base[model.LabelName(lp.GetName())] = model.LabelValue(lp.GetValue())
	}
	maps.Copy(base, model.Metric(target))
	with := func(suffix string, extra model.LabelSet) model.Metric {
		s := base.Clone()
		s[model.MetricNameLabel] = model.LabelValue(name + suffix)
		maps.Copy(s, model.Metric(extra))
		return s
	}
	switch typ {
	case dto.MetricType_COUNTER:
		h.record(with("", nil), m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		h.record(with("", nil), m.GetGauge().GetValue())
	case dto.MetricType_UNTYPED:
		h.record(with("", nil), m.GetUntyped().GetValue())
	case dto.MetricType_HISTOGRAM:
		hist := m.GetHistogram()
		for _, b := range hist.GetBucket() {
			le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
			h.record(with("_bucket", model.LabelSet{"le": model.LabelValue(le)}), float64(b.GetCumulativeCount()))
		}
		h.record(with("_bucket", model.LabelSet{"le": "+Inf"}), float64(hist.GetSampleCount()))
		h.record(with("_sum", nil), hist.GetSampleSum())
		h.record(with("_count", nil), float64(hist.GetSampleCount()))
	default:
		h.t.Fatalf("%s: metric type %s not handled", name, typ)
	}
}

func (h *amHarness) record(m model.Metric, v float64) {
	key := m.String()
	if h.series[key] == nil {
		h.series[key] = map[int]float64{}
	}
	h.series[key][h.step] = v
}

// lastValue returns the value a series had at the last scrape of instance,
// and whether it was there.
func (h *amHarness) lastValue(instance, name string, labels model.LabelSet) (float64, bool) {
	m := model.Metric{model.MetricNameLabel: model.LabelValue(name), "job": amJob, "instance": model.LabelValue(instance)}
	maps.Copy(m, model.Metric(labels))
	v, ok := h.series[m.String()][h.step-1]
	return v, ok
}

// inputSeries renders the recorded series in promtool's notation: a value
// per 5-minute step from the epoch, _ before the first scrape and where the
// series is missing, stale the first step it is missing after being there
// (Prometheus writes a stale marker when a series or its target goes).
func (h *amHarness) inputSeries() []map[string]string {
	lead := int(amStart.Sub(time.Unix(0, 0)) / amStep)
	var out []map[string]string
	for _, key := range slices.Sorted(maps.Keys(h.series)) {
		values := h.series[key]
		tokens := make([]string, 0, h.step)
		for i := range h.step {
			if v, ok := values[i]; ok {
				tokens = append(tokens, strconv.FormatFloat(v, 'f', -1, 64))
			} else if _, was := values[i-1]; was && i > 0 {
				tokens = append(tokens, "stale")
			} else {
				tokens = append(tokens, "_")
			}
		}
		out = append(out, map[string]string{"series": key, "values": amCompress(lead, tokens)})
	}
	return out
}

// amCompress writes runs as promtool's "_xN" (N blanks) and "vxN" (N+1
// times v).
func amCompress(lead int, tokens []string) string {
	var parts []string
	if lead > 0 {
		parts = append(parts, fmt.Sprintf("_x%d", lead))
	}
	for i := 0; i < len(tokens); {
		j := i
		for j < len(tokens) && tokens[j] == tokens[i] && tokens[i] != "stale" {
			j++
		}
		if j == i {
			j = i + 1
		}
		n := j - i
		switch {
		case n == 1:
			parts = append(parts, tokens[i])
		case tokens[i] == "_":
			parts = append(parts, fmt.Sprintf("_x%d", n))
		default:
			parts = append(parts, fmt.Sprintf("%sx%d", tokens[i], n-1))
		}
		i = j
	}
	return strings.Join(parts, " ")
}

// amRule is the part of an alerting rule the matrix needs.
type amRule struct {
	Alert  string            `yaml:"alert"`
	Labels map[string]string `yaml:"labels"`
}

// loadAMRules returns the alerting rules of alerts.yml and writes them,
// without annotations, to dir/rules.yml, and the recording rules they read
// to dir/records.yml.
func loadAMRules(t *testing.T, dir string) []amRule {
	t.Helper()
	records, err := os.ReadFile(amRecords)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "records.yml"), records, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(amRules)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", amRules, err)
	}
	var rules []amRule
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			delete(r, "annotations")
			var ar amRule
			ar.Alert, _ = r["alert"].(string)
			ar.Labels = map[string]string{}
			if labels, ok := r["labels"].(map[string]any); ok {
				for k, v := range labels {
					ar.Labels[k] = fmt.Sprint(v)
				}
			}
			rules = append(rules, ar)
		}
	}
	out, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return rules
}

// amAlert is an alert expected to fire: its name and labels other than
// alertname, severity and job.
type amAlert struct {
	name   string
	labels map[string]string
}

func amDBAlert(name, databaseID string) amAlert {
	return amAlert{name, map[string]string{"database_id": databaseID}}
}

func amAccountAlert(name, account string) amAlert {
	return amAlert{name, map[string]string{"account": account}}
}

// amCheck lists every alert that fires at a time after amStart; every
// other alert of alerts.yml must be silent then.
type amCheck struct {
	at     time.Duration
	firing []amAlert
}

// promtoolTest writes the promtool test of the recorded series and checks
// and runs it.
func (h *amHarness) promtoolTest(checks ...amCheck) {
	t := h.t
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing (CI=true): apt-get install prometheus")
		}
		t.Skip("SKIP: promtool is missing; THE FAULT-TO-ALERT MATRIX DID NOT RUN (apt-get install prometheus)")
	}
	dir := t.TempDir()
	rules := loadAMRules(t, dir)
	names := map[string]bool{}
	for _, r := range rules {
		names[r.Alert] = true
	}
	severity := func(a amAlert) string {
		for _, r := range rules {
			if r.Alert == a.name && (r.Labels["reason"] == "" || r.Labels["reason"] == a.labels["reason"]) {
				return r.Labels["severity"]
			}
		}
		t.Fatalf("no rule for %s %v", a.name, a.labels)
		return ""
	}
	type expAlert struct {
		ExpLabels map[string]string `json:"exp_labels"`
	}
	type alertTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	var tests []alertTest
	for _, c := range checks {
		if c.at >= h.at() {
			t.Fatalf("check at %s is after the last scrape (%s)", c.at, h.at()-amStep)
		}
		byName := map[string][]expAlert{}
		for _, a := range c.firing {
			if !names[a.name] {
				t.Fatalf("alert %s is not in %s", a.name, amRules)
			}
			labels := map[string]string{"job": amJob, "severity": severity(a)}
			maps.Copy(labels, a.labels)
			byName[a.name] = append(byName[a.name], expAlert{labels})
		}
		evalTime := model.Duration(amStart.Sub(time.Unix(0, 0)) + c.at).String()
		for _, name := range slices.Sorted(maps.Keys(names)) {
			tests = append(tests, alertTest{EvalTime: evalTime, Alertname: name, ExpAlerts: byName[name]})
		}
	}
	file := map[string]any{
		"rule_files":          []string{"records.yml", "rules.yml"},
		"evaluation_interval": "5m",
		"tests": []map[string]any{{
			"name":            t.Name(),
			"interval":        "5m",
			"input_series":    h.inputSeries(),
			"alert_rule_test": tests,
		}},
	}
	// JSON is YAML.
	b, err := json.MarshalIndent(file, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "matrix_test.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), promtool, "test", "rules", "matrix_test.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if keep := os.Getenv("ALERT_MATRIX_KEEP"); keep != "" {
		_ = os.MkdirAll(keep, 0o755)
		_ = os.WriteFile(filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+".yml"), b, 0o644)
		_ = os.WriteFile(filepath.Join(keep, "rules.yml"), amMust(os.ReadFile(filepath.Join(dir, "rules.yml"))), 0o644)
		_ = os.WriteFile(filepath.Join(keep, "records.yml"), amMust(os.ReadFile(filepath.Join(dir, "records.yml"))), 0o644)
	}
	if err != nil {
		t.Errorf("promtool test rules (%d series, %d checks): %v\n%s", len(h.series), len(tests), err, out)
		return
	}
	t.Logf("promtool test rules (%d series, %d checks): %s", len(h.series), len(tests), bytes.TrimSpace(out))
}

func amMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestAlertsMatrix is the fault-to-alert matrix.
func TestAlertsMatrix(t *testing.T) {
	staleNRC := amDBAlert("UpstashBackupNoRecentCompleted", amStale)
	vanished := func(ids ...string) []amAlert {
		var out []amAlert
		for _, id := range ids {
			out = append(out, amDBAlert("UpstashBackupDatabaseVanished", id))
		}
		return out
	}
	production := []string{amStale, amDaily, amHourly}
	frozen := func(ids ...string) []amAlert {
		var out []amAlert
		for _, id := range ids {
			out = append(out, amDBAlert("UpstashBackupDataFrozen", id))
		}
		return out
	}
	defaults := collector.Options{}

	// 1. The exporter restarts (a new pod: a new instance) while the API
	// is down for production. Discovery mode: none of its databases is
	// exported, only upstash_up 0.
	t.Run("restart during an outage, discovery mode", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		a.stop()
		h.prod.SetListDatabasesFault(upstashtest.Fault{Status: http.StatusServiceUnavailable})
		h.prod.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: http.StatusServiceUnavailable})
		b := h.start(amInstanceB, h.config(amAccount), defaults)
		h.run(4*time.Hour, b)
		h.promtoolTest(
			amCheck{at: 90 * time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3 * time.Hour, firing: append([]amAlert{staleNRC, amAccountAlert("UpstashAccountUnreadable", amAccount)}, vanished(production...)...)},
			// The history ages: the hourly database's last backup (1h)
			// and every last read (1h55m) are too old now.
			amCheck{at: 5*time.Hour + 30*time.Minute, firing: slices.Concat(
				[]amAlert{staleNRC, amDBAlert("UpstashBackupNoRecentCompleted", amHourly), amAccountAlert("UpstashAccountUnreadable", amAccount)},
				vanished(production...), frozen(production...))},
		)
	})

	// 2. The same in static mode: the configured databases are exported
	// with collect_success 0, but without timestamps.
	t.Run("restart during an outage, static mode", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount, production...), defaults)
		h.run(2*time.Hour, a)
		a.stop()
		h.prod.SetListDatabasesFault(upstashtest.Fault{Status: http.StatusServiceUnavailable})
		h.prod.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: http.StatusServiceUnavailable})
		b := h.start(amInstanceB, h.config(amAccount, production...), defaults)
		h.run(4*time.Hour, b)
		failing := func(ids ...string) []amAlert {
			var out []amAlert
			for _, id := range ids {
				out = append(out, amDBAlert("UpstashBackupCollectionFailing", id))
			}
			return out
		}
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3 * time.Hour, firing: slices.Concat(
				[]amAlert{staleNRC, amAccountAlert("UpstashAccountUnreadable", amAccount)}, failing(production...))},
			amCheck{at: 4*time.Hour + 30*time.Minute, firing: slices.Concat(
				[]amAlert{staleNRC, amDBAlert("UpstashBackupNoRecentCompleted", amHourly), amAccountAlert("UpstashAccountUnreadable", amAccount)},
				failing(production...), frozen(production...))},
		)
	})

	// 3. kill -9: the container restarts in place (same instance), its
	// scrapes fail for 10 minutes, and the new process finds the API
	// down. Then the same with the API up: no database vanishes.
	t.Run("kill and restart during an outage", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		a.stop()
		for range 2 {
			h.tick(nil, amInstanceA)
		}
		h.prod.SetListDatabasesFault(upstashtest.Fault{Status: http.StatusBadGateway})
		h.prod.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: http.StatusBadGateway})
		a2 := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a2)
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 5*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3 * time.Hour, firing: append([]amAlert{staleNRC, amAccountAlert("UpstashAccountUnreadable", amAccount)}, vanished(production...)...)},
		)
	})
	t.Run("kill and restart, API up", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		a.stop()
		for range 2 {
			h.tick(nil, amInstanceA)
		}
		a2 := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a2)
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 5*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 2*time.Hour + 15*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3*time.Hour + 30*time.Minute, firing: []amAlert{staleNRC}},
		)
	})

	// 4. The account is renamed in the configuration: by a restart while
	// the API is down, and by a reload with the API up.
	t.Run("renamed account, restart during an outage", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		a.stop()
		h.prod.SetListDatabasesFault(upstashtest.Fault{Status: http.StatusServiceUnavailable})
		h.prod.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: http.StatusServiceUnavailable})
		b := h.start(amInstanceB, h.config("prod-eu"), defaults)
		h.run(2*time.Hour, b)
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3 * time.Hour, firing: append([]amAlert{staleNRC, amAccountAlert("UpstashAccountUnreadable", "prod-eu")}, vanished(production...)...)},
		)
	})
	t.Run("renamed account, reload", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		if err := a.c.Reload(h.config("prod-eu")); err != nil {
			t.Fatal(err)
		}
		h.run(2*time.Hour, a)
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3*time.Hour + 30*time.Minute, firing: []amAlert{staleNRC}},
		)
	})

	// 5. list-databases answers 200 with []: the discovered databases
	// leave /metrics, upstash_up stays 1.
	t.Run("list-databases answers []", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		h.prod.SetListDatabasesFault(upstashtest.Fault{Body: []byte("[]")})
		h.run(2*time.Hour, a)
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 3 * time.Hour, firing: append([]amAlert{staleNRC, amAccountAlert("UpstashAccountListsNoDatabases", amAccount)}, vanished(production...)...)},
		)
	})

	// 6. list-backup answers 200 with [] for the stale database: its
	// last-completed series goes. The stale alert must hold until
	// UpstashBackupNeverCompleted (none_listed, 25h) takes over.
	t.Run("list-backup answers [] for a stale database", func(t *testing.T) {
		h := newAMHarness(t)
		h.castStale()
		h.castHealthy()
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(2*time.Hour, a)
		h.prod.SetRawBackups(amStale, []byte("[]"))
		h.run(26*time.Hour, a)
		emptied := amDBAlert("UpstashBackupListEmptied", amStale)
		never := amAlert{"UpstashBackupNeverCompleted", map[string]string{"database_id": amStale, "reason": "none_listed"}}
		h.promtoolTest(
			amCheck{at: 2*time.Hour + 10*time.Minute, firing: []amAlert{staleNRC}},
			amCheck{at: 2*time.Hour + 30*time.Minute, firing: []amAlert{staleNRC, emptied}},
			amCheck{at: 14 * time.Hour, firing: []amAlert{staleNRC, emptied}},
			amCheck{at: 27*time.Hour + 30*time.Minute, firing: []amAlert{staleNRC, emptied, never}},
		)
	})

	// 7. A refresh that outlives the scrape deadline while every read
	// succeeds: the healthy databases must not be reported as failing.
	t.Run("slow refresh, healthy databases", func(t *testing.T) {
		h := newAMHarness(t)
		h.castHealthy()
		h.prod.AddDatabase(upstashtest.Database{ID: "db-third", Name: "carts", DailyBackupEnabled: true})
		h.prod.SetBackupsFunc("db-third", amDailyBackups("db-third"))
		h.prod.SetLatency(40 * time.Millisecond)
		a := h.start(amInstanceA, h.config(amAccount), collector.Options{Concurrency: 1})
		a.scrapeTimeout = 60 * time.Millisecond
		a.settle = true
		h.run(time.Hour, a)
		h.promtoolTest(
			amCheck{at: 30 * time.Minute},
			amCheck{at: 55 * time.Minute},
		)
	})

	// 8. backup_size unreadable (negative, not a number, 2^63) on the
	// newest completed backup: never exported as 0 bytes, so the
	// empty-backup alert stays silent, and the entries are counted.
	t.Run("unreadable sizes", func(t *testing.T) {
		h := newAMHarness(t)
		h.castHealthy()
		sizes := map[string]string{"db-size-negative": "-1", "db-size-text": `"many"`, "db-size-huge": "9223372036854775808"}
		for _, id := range slices.Sorted(maps.Keys(sizes)) {
			h.prod.AddDatabase(upstashtest.Database{ID: id, Name: strings.TrimPrefix(id, "db-"), DailyBackupEnabled: true})
			newest, older := amStart.Add(-time.Hour).Unix(), amStart.Add(-25*time.Hour).Unix()
			entry := func(created int64, size string) string {
				return fmt.Sprintf(`{"database_id":%q,"customer_id":%q,"name":"daily","backup_id":%q,"creation_time":%d,"state":"completed","backup_size":%s,"daily_backup":"true","hourly_backup":"false"}`,
					id, amEmail, upstashtest.BackupID(id, created), created, size)
			}
			h.prod.SetRawBackups(id, []byte("["+entry(newest, sizes[id])+","+entry(older, "1048576")+"]"))
		}
		a := h.start(amInstanceA, h.config(amAccount), defaults)
		h.run(time.Hour, a)
		for id := range sizes {
			if v, ok := h.lastValue(amInstanceA, "upstash_redis_backup_last_completed_size_bytes", model.LabelSet{"database_id": model.LabelValue(id)}); ok {
				t.Errorf("%s: last completed size exported as %v although it is unreadable", id, v)
			}
			if v, ok := h.lastValue(amInstanceA, "upstash_backup_exporter_backup_entries_unreadable", model.LabelSet{"database_id": model.LabelValue(id), "reason": upstash.ProblemBackupSize}); !ok || v != 1 {
				t.Errorf("%s: backup_entries_unreadable{reason=%q} = %v (present %v), want 1", id, upstash.ProblemBackupSize, v, ok)
			}
		}
		h.promtoolTest(
			amCheck{at: 30 * time.Minute},
			amCheck{at: 55 * time.Minute},
		)
	})
}
