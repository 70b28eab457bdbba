package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	alertsFile     = "prometheus/alerts.yml"
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
			unknown, err := unknownMetrics(expr, externalNames)
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
			if slices.ContainsFunc(names, func(n string) bool { return perDatabase[n] }) &&
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
	} `json:"tests"`
}

// TestEveryAlertHasUnitTests holds alerts_test.yml to its promise: for each
// alert a test named "<alert>: firing ..." that expects it to fire, one
// named "<alert>: healthy ..." that expects it silent, and one named
// "<alert>: edge ...".
func TestEveryAlertHasUnitTests(t *testing.T) {
	t.Parallel()
	var f ruleTests
	b, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	// Not strict: the test format has fields not modelled here.
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v, want [alerts.yml]", f.RuleFiles)
	}
	alerts := map[string]bool{}
	for _, r := range loadAlerts(t) {
		alerts[r.Alert] = true
	}
	type kinds struct{ firing, healthy, edge bool }
	covered := map[string]*kinds{}
	for a := range alerts {
		covered[a] = &kinds{}
	}
	for _, tc := range f.Tests {
		alert, kind, ok := strings.Cut(tc.Name, ": ")
		if !ok || !alerts[alert] {
			t.Errorf("test %q: name must start with an alert of %s and \": \"", tc.Name, alertsFile)
			continue
		}
		fires, silent := false, true
		for _, at := range tc.AlertRuleTest {
			if !alerts[at.Alertname] {
				t.Errorf("test %q: alertname %q is not in %s", tc.Name, at.Alertname, alertsFile)
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
				t.Errorf("test %q expects no %s alert", tc.Name, alert)
			}
			c.firing = true
		case strings.HasPrefix(kind, "healthy"):
			if !silent || len(tc.AlertRuleTest) == 0 {
				t.Errorf("test %q must check that %s stays silent", tc.Name, alert)
			}
			c.healthy = true
		case strings.HasPrefix(kind, "edge"):
			if len(tc.AlertRuleTest) == 0 {
				t.Errorf("test %q checks nothing", tc.Name)
			}
			c.edge = true
		default:
			t.Errorf("test %q: want \"firing\", \"healthy\" or \"edge\" after the alert name", tc.Name)
		}
	}
	for a, c := range covered {
		if !c.firing || !c.healthy || !c.edge {
			t.Errorf("%s: firing %v, healthy %v, edge %v: want a test of each", a, c.firing, c.healthy, c.edge)
		}
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
	runTool(t, "prometheus", "promtool", "check", "rules", "alerts.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runTool(t, "prometheus", "promtool", "test", "rules", "alerts_test.yml")
}

func TestPromtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, "prometheus", "promtool", "check", "config", "prometheus.yml")
}

func TestAmtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, "alertmanager", "amtool", "check-config", "alertmanager.yml")
}
