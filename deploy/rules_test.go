package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	alertsFile     = "prometheus/alerts.yml"
	recordsFile    = "prometheus/rules.yml"
	alertTestsFile = "prometheus/alerts_test.yml"
	readmeFile     = "README.md"
	runbookBase    = "https://github.com/upstash-backup-exporter/upstash_backup_exporter/blob/main/deploy/README.md#"
	exporterJob    = "upstash_backup_exporter"
)

// perDatabase are the families labelled by database_id: alerts over them
// must name the database through upstash_redis_database_info.
var perDatabase = map[string]bool{
	"upstash_backup_exporter_collect_success":                        true,
	"upstash_backup_exporter_last_collect_success_timestamp_seconds": true,
}

// perAccount are the upstash_redis_ families labelled by account, not by
// database_id.
var perAccount = map[string]bool{
	"upstash_redis_databases": true,
}

func init() {
	for name := range contract {
		if strings.HasPrefix(name, "upstash_redis_") && !perAccount[name] {
			perDatabase[name] = true
		}
	}
}

type ruleFile struct {
	Groups []monitoringv1.RuleGroup `json:"groups"`
}

// readStrict decodes a YAML file into v with decodeStrict.
func readStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decodeStrict decodes YAML into v as the Kubernetes API server does with
// strict field validation: field names match case-sensitively, and unknown
// or duplicate fields are errors. (encoding/json, under sigs.k8s.io/yaml's
// UnmarshalStrict, would take readOnlyRootFileSystem for
// readOnlyRootFilesystem.)
func decodeStrict(b []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

func loadAlerts(t *testing.T) []monitoringv1.Rule {
	t.Helper()
	var f ruleFile
	readStrict(t, alertsFile, &f)
	var rules []monitoringv1.Rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", alertsFile)
	}
	return rules
}

// loadRecords returns the recording rules of rules.yml in their order.
func loadRecords(t *testing.T) []monitoringv1.Rule {
	t.Helper()
	var f ruleFile
	readStrict(t, recordsFile, &f)
	var rules []monitoringv1.Rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", recordsFile)
	}
	return rules
}

// recordedNames returns the names of the series rules.yml records.
func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, r := range loadRecords(t) {
		names[r.Record] = true
	}
	return names
}

// githubAnchors returns the anchors GitHub gives the headings of a
// Markdown file.
func githubAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
	anchors := map[string]bool{}
	inFence := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := drop.ReplaceAllString(strings.ToLower(title), "")
		anchors[strings.ReplaceAll(a, " ", "-")] = true
	}
	return anchors
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	anchors := githubAnchors(t, readmeFile)
	recorded := recordedNames(t)
	allowed := maps.Clone(externalNames)
	maps.Copy(allowed, recorded)
	seen := map[string]bool{}
	for _, r := range loadAlerts(t) {
		t.Run(r.Alert, func(t *testing.T) {
			if r.Alert == "" || r.Record != "" {
				t.Fatalf("only alerting rules belong in %s, got %+v", alertsFile, r)
			}
			// One alert may have several rules (different holds for
			// different causes), told apart by their labels, never two
			// rules that would raise the same alert.
			key := r.Alert + fmt.Sprint(r.Labels)
			if seen[key] {
				t.Errorf("alert %s defined twice with the same labels %v", r.Alert, r.Labels)
			}
			seen[key] = true
			if !regexp.MustCompile(`^Upstash[A-Za-z]+$`).MatchString(r.Alert) {
				t.Errorf("alert name %q: want UpstashCamelCase", r.Alert)
			}

			expr := r.Expr.String()
			unknown, err := unknownMetrics(expr, allowed)
			if err != nil {
				t.Fatal(err)
			}
			if len(unknown) > 0 {
				t.Errorf("expr selects metrics outside the contract: %v", unknown)
			}
			names, _ := selectedMetrics(expr)
			if slices.Contains(names, "up") && !strings.Contains(expr, `job="`+exporterJob+`"`) {
				t.Errorf("expr selects up without job=%q", exporterJob)
			}

			// Flapping: every alert waits, and every alert over the
			// exporter's own series rides out a failed scrape.
			if r.For == nil {
				t.Error("no for: one bad evaluation would fire it")
			} else if d, err := time.ParseDuration(string(*r.For)); err != nil || d < 5*time.Minute {
				t.Errorf("for: %s, want at least 5m (%v)", *r.For, err)
			}
			if !slices.Contains(names, "up") && r.KeepFiringFor == nil {
				t.Error("no keep_firing_for: a failed scrape would resolve it and the next scrape fire it again")
			}

			switch sev := r.Labels["severity"]; sev {
			case "critical", "warning":
			default:
				t.Errorf("severity %q, want critical or warning", sev)
			}
			for _, key := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[key]) == "" {
					t.Errorf("annotation %s missing", key)
				}
			}
			if len(r.Annotations) != 3 {
				t.Errorf("annotations %v, want exactly summary, description, runbook_url", slices.Sorted(maps.Keys(r.Annotations)))
			}
			wantURL := runbookBase + strings.ToLower(r.Alert)
			if got := r.Annotations["runbook_url"]; got != wantURL {
				t.Errorf("runbook_url %q, want %q", got, wantURL)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s has no heading %q for the runbook_url to point at", readmeFile, r.Alert)
			}
			// The recorded series are per database too (rules.yml).
			if slices.ContainsFunc(names, func(n string) bool { return perDatabase[n] || recorded[n] }) &&
				!strings.Contains(r.Annotations["description"], `upstash_redis_database_info{database_id=%q}`) {
				t.Error("description of a per-database alert must look the name up in upstash_redis_database_info")
			}
		})
	}
}

// ruleTests is the part of promtool's unit test format checked here.
type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `json:"eval_time"`
			Alertname string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr string `json:"expr"`
		} `json:"promql_expr_test"`
	} `json:"tests"`
}

// ruleTestFiles are the promtool unit tests and the rule files each loads:
// the RPO alerts read the recording rules, so their tests load both.
var ruleTestFiles = []struct {
	path      string
	ruleFiles []string
}{
	{alertTestsFile, []string{"alerts.yml"}},
	{"prometheus/rpo_test.yml", []string{"rules.yml", "alerts.yml"}},
	{"prometheus/rpo_rules_test.yml", []string{"rules.yml"}},
	{"prometheus/restore_test.yml", []string{"alerts.yml"}},
	{"prometheus/replica_test.yml", []string{"alerts.yml"}},
}

func loadRuleTests(t *testing.T, path string) ruleTests {
	t.Helper()
	var f ruleTests
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Not strict: the test format has fields not modelled here.
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// TestEveryAlertHasUnitTests holds the promtool tests to their promise:
// for each alert a test named "<alert>: firing ..." that expects it to
// fire, one named "<alert>: healthy ..." that expects it silent, and one
// named "<alert>: edge ...". Tests of recording rules are named after the
// series they record.
func TestEveryAlertHasUnitTests(t *testing.T) {
	t.Parallel()
	alerts := map[string]bool{}
	for _, r := range loadAlerts(t) {
		alerts[r.Alert] = true
	}
	recorded := recordedNames(t)
	type kinds struct{ firing, healthy, edge bool }
	covered := map[string]*kinds{}
	for a := range alerts {
		covered[a] = &kinds{}
	}
	for _, tf := range ruleTestFiles {
		f := loadRuleTests(t, tf.path)
		if !slices.Equal(f.RuleFiles, tf.ruleFiles) {
			t.Errorf("%s: rule_files %v, want %v", tf.path, f.RuleFiles, tf.ruleFiles)
		}
		if len(f.Tests) == 0 {
			t.Errorf("%s: no tests", tf.path)
		}
		for _, tc := range f.Tests {
			subject, kind, ok := strings.Cut(tc.Name, ": ")
			if ok && recorded[subject] {
				if len(tc.PromQLExprTest) == 0 {
					t.Errorf("%s: test %q of a recording rule evaluates no expression", tf.path, tc.Name)
				}
				continue
			}
			if !ok || !alerts[subject] {
				t.Errorf("%s: test %q: name must start with an alert of %s or a series of %s, and \": \"", tf.path, tc.Name, alertsFile, recordsFile)
				continue
			}
			alert := subject
			fires, silent := false, true
			for _, at := range tc.AlertRuleTest {
				if !alerts[at.Alertname] {
					t.Errorf("%s: test %q: alertname %q is not in %s", tf.path, tc.Name, at.Alertname, alertsFile)
				}
				if at.Alertname != alert {
					continue
				}
				if len(at.ExpAlerts) > 0 {
					fires, silent = true, false
				}
			}
			c := covered[alert]
			switch {
			case strings.HasPrefix(kind, "firing"):
				if !fires {
					t.Errorf("%s: test %q expects no %s alert", tf.path, tc.Name, alert)
				}
				c.firing = true
			case strings.HasPrefix(kind, "healthy"):
				if !silent || len(tc.AlertRuleTest) == 0 {
					t.Errorf("%s: test %q must check that %s stays silent", tf.path, tc.Name, alert)
				}
				c.healthy = true
			case strings.HasPrefix(kind, "edge"):
				if len(tc.AlertRuleTest) == 0 {
					t.Errorf("%s: test %q checks nothing", tf.path, tc.Name)
				}
				c.edge = true
			default:
				t.Errorf("%s: test %q: want \"firing\", \"healthy\" or \"edge\" after the alert name", tf.path, tc.Name)
			}
		}
	}
	for a, c := range covered {
		if !c.firing || !c.healthy || !c.edge {
			t.Errorf("%s: firing %v, healthy %v, edge %v: want a test of each", a, c.firing, c.healthy, c.edge)
		}
	}
}

// recordName is the level:metric:operations form of
// https://prometheus.io/docs/practices/rules/ with the level upstash_database.
var recordName = regexp.MustCompile(`^upstash_database:[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)?$`)

// TestRecordingRules checks rules.yml: recording rules only, named
// level:metric:operations, over the contract's metrics selected by the
// exporter's job (so that the mixin's selector reaches them) or series
// recorded before them in the same group, each read by an alert or a
// promtool expression test or the dashboard.
func TestRecordingRules(t *testing.T) {
	t.Parallel()
	var f ruleFile
	readStrict(t, recordsFile, &f)
	read := map[string]bool{}
	for _, r := range loadAlerts(t) {
		names, err := selectedMetrics(r.Expr.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			read[n] = true
		}
	}
	for _, tf := range ruleTestFiles {
		for _, tc := range loadRuleTests(t, tf.path).Tests {
			for _, e := range tc.PromQLExprTest {
				names, err := selectedMetrics(e.Expr)
				if err != nil {
					t.Fatalf("%s: %v", tf.path, err)
				}
				for _, n := range names {
					read[n] = true
				}
			}
		}
	}
	for _, q := range dashboardQueries(t, loadDashboard(t)) {
		names, _ := selectedMetrics(q.expr)
		for _, n := range names {
			read[n] = true
		}
	}
	count := 0
	for _, g := range f.Groups {
		earlier := map[string]bool{}
		for _, r := range g.Rules {
			count++
			if r.Record == "" || r.Alert != "" {
				t.Errorf("group %s: only recording rules belong in %s, got %+v", g.Name, recordsFile, r)
				continue
			}
			if !recordName.MatchString(r.Record) {
				t.Errorf("record %q: want upstash_database:<metric>[:<operations>]", r.Record)
			}
			if len(r.Labels) > 0 {
				t.Errorf("record %s: labels %v: the series must keep the labels of what it records", r.Record, r.Labels)
			}
			expr := r.Expr.String()
			unknown, err := unknownMetrics(expr, earlier)
			if err != nil {
				t.Fatal(err)
			}
			if len(unknown) > 0 {
				t.Errorf("record %s selects %v: neither contract metrics nor recorded earlier in group %s", r.Record, unknown, g.Name)
			}
			if err := contractSelectorsHaveJob(expr); err != nil {
				t.Errorf("record %s: %v", r.Record, err)
			}
			if !read[r.Record] {
				t.Errorf("record %s is read by no alert, dashboard query or promtool expression test", r.Record)
			}
			earlier[r.Record] = true
		}
	}
	t.Logf("%d recording rules", count)
}

// contractSelectorsHaveJob fails when a selector of a contract metric in
// expr lacks the exporter's job matcher.
func contractSelectorsHaveJob(expr string) error {
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return err
	}
	known := seriesNames()
	for _, sel := range parser.ExtractSelectors(node) {
		name, hasJob := "", false
		for _, m := range sel {
			switch {
			case m.Name == "__name__":
				name = m.Value
			case m.Name == "job" && m.Type == labels.MatchEqual && m.Value == exporterJob:
				hasJob = true
			}
		}
		if known[name] && !hasJob {
			return fmt.Errorf("selector of %s without job=%q", name, exporterJob)
		}
	}
	return nil
}

func TestContractSelectorsHaveJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr  string
		fails bool
	}{
		{expr: `time() - upstash_redis_backup_last_completed_timestamp_seconds{job="upstash_backup_exporter"}`},
		{expr: `upstash_database:rpo_within_objective`},
		{expr: `time() - upstash_redis_backup_last_completed_timestamp_seconds`, fails: true},
		{expr: `upstash_up{job=~"upstash_backup_exporter"}`, fails: true},
		{expr: `upstash_up{job="other"} or upstash_up{job="upstash_backup_exporter"}`, fails: true},
	} {
		if err := contractSelectorsHaveJob(tc.expr); (err != nil) != tc.fails {
			t.Errorf("%s: error %v, want failure %v", tc.expr, err, tc.fails)
		}
	}
}

// TestGeneratedRuleGroups checks that the PrometheusRule and the chart's
// rule file carry the groups of rules.yml followed by those of alerts.yml,
// as scripts/mixin.sh renders them.
func TestGeneratedRuleGroups(t *testing.T) {
	t.Parallel()
	var records, alerts ruleFile
	readStrict(t, recordsFile, &records)
	readStrict(t, alertsFile, &alerts)
	want := slices.Concat(records.Groups, alerts.Groups)

	var pr monitoringv1.PrometheusRule
	readStrict(t, "kubernetes/prometheusrule.yaml", &pr)
	if !reflect.DeepEqual(pr.Spec.Groups, want) {
		t.Errorf("kubernetes/prometheusrule.yaml: spec.groups differ from the groups of %s and %s: run scripts/mixin.sh", recordsFile, alertsFile)
	}
	var chart ruleFile
	readStrict(t, "helm/upstash-backup-exporter/files/prometheus-rules.yaml", &chart)
	if !reflect.DeepEqual(chart.Groups, want) {
		t.Errorf("the chart's files/prometheus-rules.yaml: groups differ from those of %s and %s: run scripts/mixin.sh", recordsFile, alertsFile)
	}
}

// requireTool returns the path of a command line tool, skipping the test
// when it is missing, unless in CI, where a missing tool is a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI=true); scripts/setup.sh or apt-get install prometheus prometheus-alertmanager provides it", name)
	}
	t.Skipf("SKIP: %s is missing; THIS CHECK DID NOT RUN (apt-get install prometheus prometheus-alertmanager)", name)
	return ""
}

func runTool(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), requireTool(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
}

// The same checks as an operator would run; promtool and amtool are
// Prometheus' and Alertmanager's own validators.
func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runTool(t, "prometheus", "promtool", "check", "rules", "rules.yml", "alerts.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	for _, tf := range ruleTestFiles {
		t.Run(filepath.Base(tf.path), func(t *testing.T) {
			t.Parallel()
			runTool(t, "prometheus", "promtool", "test", "rules", filepath.Base(tf.path))
		})
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, "prometheus", "promtool", "check", "config", "prometheus.yml")
}

func TestAmtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, "alertmanager", "amtool", "check-config", "alertmanager.yml")
}
