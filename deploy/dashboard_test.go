package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

const dashboardFile = "grafana/upstash-backups.json"

// dashboard is the part of Grafana's dashboard model checked here.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	ID            *int    `json:"id"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
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
	Targets    []struct {
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
		qs = append(qs, dashboardQuery{fmt.Sprintf("variable %s", v.Name), m[1]})
	}
	return qs
}

func TestDashboardQueriesUseTheContract(t *testing.T) {
	t.Parallel()
	qs := dashboardQueries(t, loadDashboard(t))
	if len(qs) < 10 {
		t.Fatalf("%d queries, the dashboard looks truncated", len(qs))
	}
	for _, q := range qs {
		unknown, err := unknownMetrics(q.expr, nil)
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
	if vars["datasource"] != "datasource" || vars["account"] != "query" {
		t.Errorf("variables %v: want datasource (datasource) and account (query)", vars)
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
