package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

const dashboardFile = "grafana/upstash-backups.json"

// dashboard is the part of Grafana's dashboard model checked here.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	ID            *int    `json:"id"`
	Editable      bool    `json:"editable"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
	Multi      bool            `json:"multi"`
	AllValue   string          `json:"allValue"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasourceRef           `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	// FieldConfig holds the units.
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // rows
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// flatPanels returns the dashboard's panels with those inside rows.
func flatPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatPanels(p.Panels)...)
	}
	return out
}

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where, expr string
}

// templateVars are the values the dashboard's variables are given for
// parsing and evaluation: Grafana's built-in ones and the dashboard's own.
var templateVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
	"datasource":      "prometheus",
	"job":             ".+",
	"instance":        ".+",
	"account":         ".*",
}

var varRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// substitute replaces the dashboard variables in expr, failing on one it
// does not know.
func substitute(expr string) (string, error) {
	var err error
	out := varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := templateVars[name]
		if !ok {
			err = fmt.Errorf("unknown variable %s in %q", ref, expr)
		}
		return v
	})
	return out, err
}

var labelValues = regexp.MustCompile(`^label_values\((?:(.+),\s*)?(\w+)\)$`)

// dashboardQueries returns every PromQL expression of the dashboard with
// its variables substituted: panel targets and variable queries
// (label_values(selector, label) contributes its selector).
func dashboardQueries(t *testing.T, d dashboard) []dashboardQuery {
	t.Helper()
	var qs []dashboardQuery
	for _, p := range flatPanels(d.Panels) {
		for _, tg := range p.Targets {
			expr, err := substitute(tg.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			qs = append(qs, dashboardQuery{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Errorf("variable %s: query: %v", v.Name, err)
				continue
			}
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil || m[1] == "" {
			t.Errorf("variable %s: query %q: want label_values(<metric>, <label>)", v.Name, q.Query)
			continue
		}
		expr, err := substitute(m[1])
		if err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
			continue
		}
		qs = append(qs, dashboardQuery{fmt.Sprintf("variable %s", v.Name), expr})
	}
	return qs
}

func TestDashboardQueriesUseTheContract(t *testing.T) {
	t.Parallel()
	qs := dashboardQueries(t, loadDashboard(t))
	if len(qs) < 10 {
		t.Fatalf("%d queries, the dashboard looks truncated", len(qs))
	}
	recorded := recordedNames(t)
	for _, q := range qs {
		unknown, err := unknownMetrics(q.expr, recorded)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if len(unknown) > 0 {
			t.Errorf("%s: %q selects metrics the exporter does not emit: %v", q.where, q.expr, unknown)
		}
	}
}

// TestDashboardModel checks what Grafana 10+ needs to import the file and
// what makes it portable: no fixed data source, the two variables, unique
// panel ids, a layout inside the 24-column grid.
func TestDashboardModel(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("uid and title must be set")
	}
	if d.ID != nil {
		t.Error("id must be null so that import creates the dashboard")
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: Grafana 10 writes 36 or later", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s must query ${datasource}", v.Name)
		}
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" || vars["account"] != "query" {
		t.Errorf("variables %v: want datasource (datasource), job, instance and account (query)", vars)
	}
	ids := map[int]bool{}
	for _, p := range flatPanels(d.Panels) {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or not unique", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q target %s: datasource %+v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", p.Title, tg.RefID)
			}
			if strings.Contains(tg.Expr, "account") && !strings.Contains(tg.Expr, `account=~"$account"`) {
				t.Errorf("panel %q target %s: filter accounts with account=~\"$account\" (multi-value variable)", p.Title, tg.RefID)
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		fails    bool
	}{
		{in: `rate(x{account=~"$account"}[$__rate_interval])`, want: `rate(x{account=~".*"}[1m])`},
		{in: `x{account=~"${account}"}`, want: `x{account=~".*"}`},
		{in: `x{account=~"${account:regex}"}`, want: `x{account=~".*"}`},
		{in: `x{a="[[account]]"}`, want: `x{a=".*"}`},
		{in: `x{a="$nope"}`, fails: true},
	} {
		got, err := substitute(tc.in)
		if (err != nil) != tc.fails || (!tc.fails && got != tc.want) {
			t.Errorf("substitute(%q) = %q, %v; want %q, fails %v", tc.in, got, err, tc.want, tc.fails)
		}
	}
}

// The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter,
// lint/rule_*.go) that the dashboard must pass, by the linter's names.
// Exclusions are read from grafana/.lint, in the linter's format.
const (
	ruleTemplateDatasource = "template-datasource-rule"
	ruleTemplateJob        = "template-job-rule"
	ruleTemplateInstance   = "template-instance-rule"
	rulePanelDatasource    = "panel-datasource-rule"
	ruleTargetJob          = "target-job-rule"
	ruleTargetInstance     = "target-instance-rule"
	rulePanelUnits         = "panel-units-rule"
	ruleUneditable         = "uneditable-dashboard-rule"
)

const lintFile = "grafana/.lint"

// lintExclusions is the linter's .lint file: per rule, a reason and the
// panels it does not apply to (an entry without a panel excludes the rule
// from the whole dashboard).
type lintExclusions struct {
	Exclusions map[string]struct {
		Reason  string `json:"reason"`
		Entries []struct {
			Panel string `json:"panel"`
		} `json:"entries"`
	} `json:"exclusions"`
}

func (e lintExclusions) excluded(rule, panelTitle string) bool {
	x, ok := e.Exclusions[rule]
	if !ok {
		return false
	}
	if len(x.Entries) == 0 {
		return true
	}
	for _, en := range x.Entries {
		if en.Panel == "" || en.Panel == panelTitle {
			return true
		}
	}
	return false
}

// grafanaUnits are unit ids of Grafana's value formats
// (packages/grafana-data/src/valueFormats/categories.ts) that the linter's
// panel-units rule accepts; a subset, of the kinds a backup dashboard
// shows.
var grafanaUnits = map[string]bool{
	"none": true, "string": true, "short": true, "percent": true, "percentunit": true,
	"bytes": true, "decbytes": true, "bits": true, "kbytes": true, "mbytes": true, "gbytes": true,
	"Bps": true, "binBps": true,
	"dateTimeAsIso": true, "dateTimeAsSystem": true, "dateTimeFromNow": true,
	"ns": true, "µs": true, "ms": true, "s": true, "m": true, "h": true, "d": true,
	"dtdurationms": true, "dtdurations": true, "dthms": true, "dtdhms": true,
	"cps": true, "ops": true, "reqps": true, "rps": true, "wps": true, "iops": true,
	"cpm": true, "opm": true, "rpm": true, "wpm": true,
	"bool": true, "bool_yes_no": true, "bool_on_off": true,
}

// unitPanels are the panel types whose units the linter checks, and the
// bar gauge, which shows values just the same.
var unitPanels = map[string]bool{
	"stat": true, "singlestat": true, "graph": true, "table": true, "timeseries": true, "gauge": true, "bargauge": true,
}

// durationVars are the variables that stand for durations in a query; the
// linter substitutes them to parse it. Other variables stay as they are,
// inside label matchers.
var durationVars = strings.NewReplacer("$__rate_interval", "1m", "${__rate_interval}", "1m",
	"$__interval", "15s", "${__interval}", "15s", "$__range", "1h", "${__range}", "1h")

type lintProblem struct {
	rule, where, msg string
}

func (p lintProblem) String() string { return p.rule + ": " + p.where + ": " + p.msg }

// lintDashboard applies the linter's rules to d.
func lintDashboard(d dashboard, ex lintExclusions) []lintProblem {
	var problems []lintProblem
	report := func(rule, where, format string, args ...any) {
		problems = append(problems, lintProblem{rule, where, fmt.Sprintf(format, args...)})
	}

	if d.Editable {
		report(ruleUneditable, "dashboard", "is editable, it should be set to 'editable: false'")
	}

	// template-datasource-rule: a data source variable named datasource (or
	// <type>_datasource), labelled "Data source", of Prometheus.
	var dsVars []templateVar
	vars := map[string]templateVar{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
		if v.Type == "datasource" {
			dsVars = append(dsVars, v)
		}
	}
	dsRefs := map[string]bool{}
	if len(dsVars) == 0 {
		report(ruleTemplateDatasource, "dashboard", "no templated data source")
	}
	for _, v := range dsVars {
		var query string
		if err := json.Unmarshal(v.Query, &query); err != nil || query != "prometheus" {
			report(ruleTemplateDatasource, "variable "+v.Name, "query %s, want prometheus", v.Query)
		}
		if v.Name != "datasource" && v.Name != query+"_datasource" {
			report(ruleTemplateDatasource, "variable "+v.Name, "should be named datasource or %s_datasource", query)
		}
		if v.Label != "Data source" {
			report(ruleTemplateDatasource, "variable "+v.Name, "labelled %q, should be labelled \"Data source\"", v.Label)
		}
		dsRefs["$"+v.Name] = true
		dsRefs["${"+v.Name+"}"] = true
	}

	// template-job-rule, template-instance-rule.
	for _, c := range []struct{ rule, name, label string }{
		{ruleTemplateJob, "job", "Job"},
		{ruleTemplateInstance, "instance", "Instance"},
	} {
		v, ok := vars[c.name]
		if !ok {
			report(c.rule, "dashboard", "is missing the %s template", c.name)
			continue
		}
		where := "variable " + c.name
		if v.Datasource == nil || !slices.Contains([]string{"$datasource", "${datasource}", "$prometheus_datasource", "${prometheus_datasource}"}, v.Datasource.UID) {
			report(c.rule, where, "should use datasource '$datasource', is %+v", v.Datasource)
		}
		if v.Type != "query" {
			report(c.rule, where, "should be a Prometheus query, is %q", v.Type)
		}
		if v.Label != c.label {
			report(c.rule, where, "should be labelled %q, is %q", c.label, v.Label)
		}
		if !v.Multi {
			report(c.rule, where, "should be a multi select")
		}
		if v.AllValue != ".+" {
			report(c.rule, where, "allValue should be '.+', is %q", v.AllValue)
		}
	}

	for _, p := range flatPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		where := fmt.Sprintf("panel %q", p.Title)
		// panel-datasource-rule, for the panel and each of its targets.
		if p.Datasource == nil || !dsRefs[p.Datasource.UID] {
			report(rulePanelDatasource, where, "does not use a templated data source: %+v", p.Datasource)
		}
		for i, tg := range p.Targets {
			if tg.Datasource == nil || !dsRefs[tg.Datasource.UID] {
				report(rulePanelDatasource, fmt.Sprintf("%s target %d", where, i), "does not use a templated data source: %+v", tg.Datasource)
			}
		}
		// panel-units-rule.
		if unitPanels[p.Type] {
			if u := p.FieldConfig.Defaults.Unit; !grafanaUnits[u] {
				report(rulePanelUnits, where, "no or invalid unit %q", u)
			}
			for _, o := range p.FieldConfig.Overrides {
				for _, prop := range o.Properties {
					if u, _ := prop.Value.(string); prop.ID == "unit" && !grafanaUnits[u] {
						report(rulePanelUnits, where, "invalid unit %v in an override", prop.Value)
					}
				}
			}
		}
		// target-job-rule, target-instance-rule: every selector of every
		// query has job=~"$job" and instance=~"$instance".
		for i, tg := range p.Targets {
			node, err := promql.ParseExpr(durationVars.Replace(tg.Expr))
			if err != nil {
				// target-promql-rule's business; TestDashboardQueriesUseTheContract fails.
				continue
			}
			for _, c := range []struct{ rule, label string }{{ruleTargetJob, "job"}, {ruleTargetInstance, "instance"}} {
				if ex.excluded(c.rule, p.Title) {
					continue
				}
				for _, sel := range parser.ExtractSelectors(node) {
					if err := hasMatcher(sel, c.label, labels.MatchRegexp, "$"+c.label); err != nil {
						report(c.rule, fmt.Sprintf("%s target %d", where, i), "%q: %v", tg.Expr, err)
					}
				}
			}
		}
	}
	return problems
}

// hasMatcher fails unless selector has the matcher name ty value.
func hasMatcher(selector []*labels.Matcher, name string, ty labels.MatchType, value string) error {
	for _, m := range selector {
		if m.Name != name {
			continue
		}
		if m.Type != ty || m.Value != value {
			return fmt.Errorf("%s matcher is %s, want %s", name, m, &labels.Matcher{Name: name, Type: ty, Value: value})
		}
		return nil
	}
	return fmt.Errorf("%s matcher not found", name)
}

func loadLintExclusions(t *testing.T) lintExclusions {
	t.Helper()
	var ex lintExclusions
	readStrict(t, lintFile, &ex)
	for rule, x := range ex.Exclusions {
		if strings.TrimSpace(x.Reason) == "" {
			t.Errorf("%s: exclusion of %s without a reason", lintFile, rule)
		}
	}
	return ex
}

// TestDashboardLint applies the linter's rules to the shipped dashboard,
// and checks that each exclusion of grafana/.lint names a panel there.
func TestDashboardLint(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	ex := loadLintExclusions(t)
	for _, p := range lintDashboard(d, ex) {
		t.Error(p)
	}
	titles := map[string]bool{}
	for _, p := range flatPanels(d.Panels) {
		titles[p.Title] = true
	}
	for rule, x := range ex.Exclusions {
		for _, en := range x.Entries {
			if !titles[en.Panel] {
				t.Errorf("%s: %s excludes panel %q, which the dashboard does not have", lintFile, rule, en.Panel)
			}
		}
	}
}

// TestDashboardLintCatches breaks the shipped dashboard one way at a time
// and checks that the lint reports exactly the rule that was broken.
func TestDashboardLintCatches(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	ex := loadLintExclusions(t)
	panelByTitle := func(m map[string]any, title string) map[string]any {
		for _, p := range m["panels"].([]any) {
			if p := p.(map[string]any); p["title"] == title {
				return p
			}
		}
		t.Fatalf("no panel %q", title)
		return nil
	}
	variable := func(m map[string]any, name string) map[string]any {
		for _, v := range m["templating"].(map[string]any)["list"].([]any) {
			if v := v.(map[string]any); v["name"] == name {
				return v
			}
		}
		t.Fatalf("no variable %q", name)
		return nil
	}
	dropVariable := func(m map[string]any, name string) {
		tl := m["templating"].(map[string]any)
		var keep []any
		for _, v := range tl["list"].([]any) {
			if v.(map[string]any)["name"] != name {
				keep = append(keep, v)
			}
		}
		tl["list"] = keep
	}
	firstTarget := func(m map[string]any, title string) map[string]any {
		return panelByTitle(m, title)["targets"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name   string
		rule   string
		mutate func(m map[string]any)
		// also are rules that must report too, as a consequence.
		also []string
	}{
		{"editable", ruleUneditable, func(m map[string]any) { m["editable"] = true }, nil},
		{"no data source variable", ruleTemplateDatasource, func(m map[string]any) { dropVariable(m, "datasource") }, []string{rulePanelDatasource}},
		{"data source variable of Loki", ruleTemplateDatasource, func(m map[string]any) { variable(m, "datasource")["query"] = "loki" }, nil},
		{"data source variable mislabelled", ruleTemplateDatasource, func(m map[string]any) { variable(m, "datasource")["label"] = "Prometheus" }, nil},
		{"no job variable", ruleTemplateJob, func(m map[string]any) { dropVariable(m, "job") }, nil},
		{"job variable's all value .*", ruleTemplateJob, func(m map[string]any) { variable(m, "job")["allValue"] = ".*" }, nil},
		{"job variable on a fixed data source", ruleTemplateJob, func(m map[string]any) {
			variable(m, "job")["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}, nil},
		{"instance variable single-valued", ruleTemplateInstance, func(m map[string]any) { variable(m, "instance")["multi"] = false }, nil},
		{"instance variable a custom list", ruleTemplateInstance, func(m map[string]any) { variable(m, "instance")["type"] = "custom" }, nil},
		{"instance variable unlabelled", ruleTemplateInstance, func(m map[string]any) { variable(m, "instance")["label"] = "" }, nil},
		{"panel on a fixed data source", rulePanelDatasource, func(m map[string]any) {
			panelByTitle(m, "Databases watched")["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}, nil},
		{"target on a fixed data source", rulePanelDatasource, func(m map[string]any) {
			firstTarget(m, "Databases watched")["datasource"] = map[string]any{"type": "prometheus", "uid": "prometheus"}
		}, nil},
		{"query without job", ruleTargetJob, func(m map[string]any) {
			firstTarget(m, "Collection duration")["expr"] = `upstash_backup_exporter_collect_duration_seconds{instance=~"$instance"}`
		}, nil},
		{"query with a fixed job", ruleTargetJob, func(m map[string]any) {
			firstTarget(m, "Collection duration")["expr"] = `upstash_backup_exporter_collect_duration_seconds{job="upstash_backup_exporter", instance=~"$instance"}`
		}, nil},
		{"one selector of a join without job", ruleTargetJob, func(m map[string]any) {
			firstTarget(m, "Last completed backup size")["expr"] = `upstash_redis_backup_last_completed_size_bytes{job=~"$job", instance=~"$instance"} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{instance=~"$instance"}`
		}, nil},
		{"query without instance", ruleTargetInstance, func(m map[string]any) {
			firstTarget(m, "Collection duration")["expr"] = `upstash_backup_exporter_collect_duration_seconds{job=~"$job"}`
		}, nil},
		{"excluded rule on a panel not excluded", ruleTargetInstance, func(m map[string]any) {
			firstTarget(m, "Retained backup size")["expr"] = `upstash_redis_backup_retained_size_bytes{job=~"$job"}`
		}, nil},
		{"panel without unit", rulePanelUnits, func(m map[string]any) {
			delete(panelByTitle(m, "Collection duration")["fieldConfig"].(map[string]any)["defaults"].(map[string]any), "unit")
		}, nil},
		{"panel with an unknown unit", rulePanelUnits, func(m map[string]any) {
			panelByTitle(m, "Collection duration")["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = "seconds"
		}, nil},
		{"override with an unknown unit", rulePanelUnits, func(m map[string]any) {
			o := panelByTitle(m, "Databases")["fieldConfig"].(map[string]any)["overrides"].([]any)[0].(map[string]any)
			o["properties"].([]any)[0].(map[string]any)["value"] = "secs"
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			if err := json.Unmarshal(shipped, &m); err != nil {
				t.Fatal(err)
			}
			tc.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var d dashboard
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			problems := lintDashboard(d, ex)
			if len(problems) == 0 {
				t.Fatalf("no problem reported, want %s", tc.rule)
			}
			reported := map[string]bool{}
			for _, p := range problems {
				reported[p.rule] = true
				if p.rule != tc.rule && !slices.Contains(tc.also, p.rule) {
					t.Errorf("reported %v, want only %s", p, tc.rule)
				}
			}
			for _, r := range append([]string{tc.rule}, tc.also...) {
				if !reported[r] {
					t.Errorf("%s not reported", r)
				}
			}
		})
	}
}
