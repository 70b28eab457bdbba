package deploy

// End-to-end tests against a running exporter (--demo), Prometheus and
// Alertmanager. scripts/e2e-prometheus.sh starts them and sets the
// variables below; without them these tests skip.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// demoAlerts is what the demo cast must raise, pending or firing, by
// database name, once Prometheus has evaluated the rules on its data.
// Alerts with long for: durations cannot fire within the test, so pending
// counts.
// The RPO burn-rate alerts are pending from the first evaluations for a
// database out of its objective (1.5 days for a daily one): sessions'
// newest completed backup is over 36 hours old.
var demoAlerts = map[string][]string{
	"orders": nil, // healthy daily
	// Healthy hourly, but its 24 backups are a day, not the 6 days the
	// demo account requires.
	"payments":  {"UpstashBackupRestoreWindowNotCovered"},
	"sessions":  {"UpstashBackupLatestFailed", "UpstashBackupNoRecentCompleted", "UpstashBackupRPOBudgetBurnFast", "UpstashBackupRPOBudgetBurnSlow"},
	"analytics": {"UpstashBackupNoRecentCompleted", "UpstashBackupStuckPending"},
	// No backup at all: none within the required 6 days either.
	"scratch-cache": {"UpstashBackupDailyDisabled", "UpstashBackupRestoreWindowNotCovered"},
	"inventory":     {"UpstashBackupChainGap"},      // a day missing in the chain
	"search-index":  {"UpstashBackupEmptyOrShrunk"}, // the newest backup is a tenth of the others
}

// demoMaybeAlerts may be pending or firing, or not, depending on the time
// of day the demo starts: analytics' newest completed backup is 30 to 54
// hours old, on either side of its 36-hour objective.
var demoMaybeAlerts = map[string][]string{
	"analytics": {"UpstashBackupRPOBudgetBurnFast", "UpstashBackupRPOBudgetBurnSlow"},
}

func e2eURL(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set; scripts/e2e-prometheus.sh runs this test", name)
	}
	return strings.TrimRight(v, "/")
}

func e2eTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("E2E_TIMEOUT")); err == nil {
		return d
	}
	return 60 * time.Second
}

// eventually retries check every second until it returns nil, failing the
// test with its last error after the E2E timeout. Prometheus cannot tell
// when it has scraped or evaluated, so polling is the only way to wait.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout())
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, e2eTimeout(), err)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(time.Second):
		}
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(t *testing.T, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

type promSample struct {
	Metric map[string]string `json:"metric"`
}

// promQuery runs an instant query. A query error (bad_data and the like)
// is returned as such; the test tells it from an empty answer.
func promQuery(t *testing.T, base, expr string) ([]promSample, error) {
	b, err := httpGet(t, base+"/api/v1/query?query="+url.QueryEscape(expr))
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if jerr := json.Unmarshal(b, &r); jerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("query %q: %w", expr, jerr)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
		var s []promSample
		err := json.Unmarshal(r.Data.Result, &s)
		return s, err
	default: // scalar or string: one value
		return []promSample{{}}, nil
	}
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// activeAlerts returns the alerts Prometheus has pending or firing.
func activeAlerts(t *testing.T, base string) ([]promAlert, error) {
	b, err := httpGet(t, base+"/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	active := r.Data.Alerts[:0]
	for _, a := range r.Data.Alerts {
		if a.State == "pending" || a.State == "firing" {
			active = append(active, a)
		}
	}
	return active, nil
}

// TestE2EExporterMetricsMatchContract compares the families on a running
// exporter's /metrics with the contract the dashboard and rules are
// checked against, both ways, with their types.
func TestE2EExporterMetricsMatchContract(t *testing.T) {
	exporter := e2eURL(t, "E2E_EXPORTER_URL")
	body, err := httpGet(t, exporter+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && isExporterFamily(f[2]) {
			got[f[2]] = f[3]
		}
	}
	for name, typ := range contract {
		if _, ok := got[name]; !ok && optional[name] {
			continue
		}
		if got[name] != typ {
			t.Errorf("%s: /metrics has type %q, the contract %q", name, got[name], typ)
		}
	}
	for name := range got {
		if _, ok := contract[name]; !ok {
			t.Errorf("%s is on /metrics but not in the contract", name)
		}
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.CommandContext(t.Context(), path, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// TestE2EPrometheusScrapesTheContract checks that Prometheus, with the
// shipped scrape configuration, scrapes the exporter and stores every
// series of the contract (the optional families when they are there).
func TestE2EPrometheusScrapesTheContract(t *testing.T) {
	prom := e2eURL(t, "E2E_PROMETHEUS_URL")
	eventually(t, "target up", func() error {
		s, err := promQuery(t, prom, `up{job="`+exporterJob+`"} == 1`)
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("up{job=%q} == 1 gives %d series, want 1", exporterJob, len(s))
		}
		return nil
	})
	names := seriesNames()
	for name := range optional {
		delete(names, name)
	}
	want := slices.Sorted(maps.Keys(names))
	eventually(t, "contract series stored", func() error {
		s, err := promQuery(t, prom, `count by (__name__) ({__name__=~"upstash_.+", job="`+exporterJob+`"})`)
		if err != nil {
			return err
		}
		var got []string
		for _, x := range s {
			// Names with a colon are the recording rules' (rules.yml).
			if name := x.Metric["__name__"]; !optional[name] && !strings.Contains(name, ":") {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("stored %v, want %v", got, want)
		}
		return nil
	})
}

// TestE2EDemoAlerts checks that the shipped rules, evaluated by Prometheus
// on the demo's data, raise exactly the alerts the demo cast calls for, and
// none for the healthy databases or the exporter.
func TestE2EDemoAlerts(t *testing.T) {
	prom := e2eURL(t, "E2E_PROMETHEUS_URL")
	var last string
	eventually(t, "demo alerts", func() error {
		s, err := promQuery(t, prom, "upstash_redis_database_info")
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, x := range s {
			names[x.Metric["database_id"]] = x.Metric["database_name"]
		}
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		got := map[string][]string{}
		for db := range demoAlerts {
			got[db] = nil
		}
		for _, a := range alerts {
			db := "(no database)"
			if id, ok := a.Labels["database_id"]; ok {
				db = names[id]
				if db == "" {
					db = "id " + id
				}
				if !strings.Contains(a.Annotations["description"], " "+db+" (account ") {
					return fmt.Errorf("%s for %s: description %q does not name the database", a.Labels["alertname"], db, a.Annotations["description"])
				}
			}
			if slices.Contains(demoMaybeAlerts[db], a.Labels["alertname"]) {
				continue
			}
			got[db] = append(got[db], a.Labels["alertname"])
		}
		for db := range got {
			slices.Sort(got[db])
		}
		last = fmt.Sprint(got)
		if !maps.EqualFunc(got, demoAlerts, slices.Equal) {
			return fmt.Errorf("pending or firing: %v, want %v", got, demoAlerts)
		}
		return nil
	})
	t.Logf("pending or firing by database: %s", last)
}

// TestE2EDashboardQueries evaluates every query of the dashboard, variables
// substituted, against Prometheus: none may fail, and on the demo's data
// each returns something.
func TestE2EDashboardQueries(t *testing.T) {
	prom := e2eURL(t, "E2E_PROMETHEUS_URL")
	for _, q := range dashboardQueries(t, loadDashboard(t)) {
		eventually(t, q.where, func() error {
			s, err := promQuery(t, prom, q.expr)
			if err != nil {
				return err
			}
			if len(s) == 0 {
				return fmt.Errorf("%q: empty result", q.expr)
			}
			return nil
		})
	}
	// The account variable's values.
	eventually(t, "label_values(upstash_up, account)", func() error {
		b, err := httpGet(t, prom+"/api/v1/label/account/values?match[]=upstash_up")
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(`"demo"`)) {
			return fmt.Errorf("account values %s lack the demo account", b)
		}
		return nil
	})
}

// TestE2EAlertmanagerInhibition loads alerts into an Alertmanager running
// the shipped configuration and checks that a database's failing
// collection inhibits that database's staleness alerts and nothing else,
// that an exporter down inhibits its databases' alerts when critical,
// not when it is the warning of one replica of a pair, and that a replica
// that cannot reach its account inhibits its own alerts of each database,
// not the other replica's.
func TestE2EAlertmanagerInhibition(t *testing.T) {
	am := e2eURL(t, "E2E_ALERTMANAGER_URL")
	now := time.Now().UTC()
	alertOf := func(name, db, job, severity string) map[string]any {
		labels := map[string]string{"alertname": name, "job": job, "e2e": "inhibition", "severity": severity}
		if db != "" {
			labels["database_id"] = db
		}
		return map[string]any{
			"labels":   labels,
			"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(10 * time.Minute).Format(time.RFC3339),
		}
	}
	alert := func(name, db string) map[string]any { return alertOf(name, db, "e2e", "warning") }
	replica := func(instance, reason, db string) map[string]any {
		a := alertOf("UpstashBackupExporterReplicaDegraded", db, "e2e-pair", "warning")
		labels := a["labels"].(map[string]string)
		labels["instance"], labels["reason"] = instance, reason
		if db == "" {
			labels["account"] = "production"
		}
		return a
	}
	body, _ := json.Marshal([]any{
		alert("UpstashBackupCollectionFailing", "db-a"),
		alert("UpstashBackupNoRecentCompleted", "db-a"),
		alert("UpstashBackupStuckPending", "db-a"),
		alert("UpstashBackupDailyDisabled", "db-a"),
		alert("UpstashBackupNoRecentCompleted", "db-b"),
		alertOf("UpstashBackupExporterDown", "", "e2e-single", "critical"),
		alertOf("UpstashBackupDatabaseVanished", "db-c", "e2e-single", "warning"),
		alertOf("UpstashBackupExporterDown", "", "e2e-pair", "warning"),
		alertOf("UpstashBackupDataFrozen", "db-d", "e2e-pair", "critical"),
		replica("b", "account_unreadable", ""),
		replica("b", "collection_failing", "db-e"),
		replica("a", "collection_failing", "db-f"),
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, am+"/api/v2/alerts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	want := map[string]bool{ // alertname/database_id: inhibited
		"UpstashBackupCollectionFailing/db-a":       false,
		"UpstashBackupNoRecentCompleted/db-a":       true,
		"UpstashBackupStuckPending/db-a":            true,
		"UpstashBackupDailyDisabled/db-a":           false,
		"UpstashBackupNoRecentCompleted/db-b":       false,
		"UpstashBackupExporterDown/":                false,
		"UpstashBackupDatabaseVanished/db-c":        true,
		"UpstashBackupDataFrozen/db-d":              false,
		"UpstashBackupExporterReplicaDegraded/":     false,
		"UpstashBackupExporterReplicaDegraded/db-e": true,
		"UpstashBackupExporterReplicaDegraded/db-f": false,
	}
	eventually(t, "inhibition", func() error {
		b, err := httpGet(t, am+"/api/v2/alerts?filter="+url.QueryEscape(`e2e="inhibition"`))
		if err != nil {
			return err
		}
		var alerts []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		if err := json.Unmarshal(b, &alerts); err != nil {
			return err
		}
		got := map[string]bool{}
		for _, a := range alerts {
			got[a.Labels["alertname"]+"/"+a.Labels["database_id"]] = len(a.Status.InhibitedBy) > 0
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("inhibited: %v, want %v", got, want)
		}
		return nil
	})
}

// TestE2EConfigMapPassesConfigCheck runs the exporter's --config.check on
// the configuration the Kubernetes ConfigMap ships, with a key file where
// the Secret would be mounted.
func TestE2EConfigMapPassesConfigCheck(t *testing.T) {
	bin := os.Getenv("E2E_EXPORTER_BIN")
	if bin == "" {
		t.Skip("E2E_EXPORTER_BIN is not set; scripts/e2e-prometheus.sh runs this test")
	}
	var cm corev1.ConfigMap
	readStrict(t, filepath.Join(k8sDir, "configmap.yaml"), &cm)
	dir := t.TempDir()
	key := filepath.Join(dir, "api-key")
	if err := os.WriteFile(key, []byte("not-a-real-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const mounted = "/run/secrets/upstash/api-key"
	config := cm.Data["config.yml"]
	if !strings.Contains(config, mounted) {
		t.Fatalf("config.yml does not read the key from %s", mounted)
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(config, mounted, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "--config.file="+path, "--config.check")
	cmd.Env = append(os.Environ(), "UPSTASH_EMAIL=", "UPSTASH_API_KEY=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--config.check: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("not-a-real-key")) {
		t.Errorf("--config.check printed the key:\n%s", out)
	}
	t.Logf("--config.check:\n%s", out)
}
