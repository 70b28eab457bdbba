package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// runOnceBinary runs the exporter binary with --once and args; it returns
// the exit code, stdout and stderr.
func runOnceBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, append([]string{"--once", "--web.listen-address=127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestOnceReports: --once reads every account once through the binary and
// exits 0 when every database is healthy, 1 when one is not, 2 when the
// configuration or the API fails; --output=json is a report scripts parse.
func TestOnceReports(t *testing.T) {
	t.Parallel()
	healthy := upstashtest.NewServer()
	t.Cleanup(healthy.Close)
	healthyIDs := healthy.AddGeneratedDatabases(3, 5)

	failing := upstashtest.NewServer()
	t.Cleanup(failing.Close)
	failing.AddGeneratedDatabases(2, 5)
	failing.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503})

	config := func(fake *upstashtest.Server) string {
		path := filepath.Join(t.TempDir(), "config.yml")
		writeFile(t, path, accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake))
		return "--config.file=" + path
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	writeFile(t, bad, "accounts: []\n")

	for _, c := range []struct {
		name     string
		args     []string
		code     int
		verdicts map[string]string
	}{
		{"healthy", []string{config(healthy)}, 0, map[string]string{healthyIDs[0]: "ok", healthyIDs[1]: "ok", healthyIDs[2]: "ok"}},
		{"demo: unhealthy", []string{"--demo"}, 1, map[string]string{
			demo.HealthyDailyID: "ok", demo.FailingID: "latest failed",
			// payments keeps 24 hourly backups: a day, not the 6 days the demo requires.
			demo.HourlyID:       "restore window not covered",
			demo.StuckPendingID: "no recent completed", demo.NeverBackedUpID: "daily backup off",
			demo.GapID: "gap in the chain", demo.ShrunkID: "backup shrank",
		}},
		{"API failing", []string{config(failing)}, 2, map[string]string{
			upstashtest.GeneratedDatabaseID(0): "unreadable", upstashtest.GeneratedDatabaseID(1): "unreadable",
		}},
		{"bad configuration", []string{"--config.file=" + bad}, 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runOnceBinary(t, append(c.args, "--output=json")...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errs)
			}
			if c.verdicts == nil {
				if !strings.Contains(errs, "no accounts configured") {
					t.Errorf("stderr does not say what is wrong:\n%s", errs)
				}
				return
			}
			var r statusReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("--output=json: %v\n%s", err, out)
			}
			if r.Healthy != (c.code == 0) || len(r.Databases) != len(c.verdicts) {
				t.Errorf("healthy %v, %d databases, want %d:\n%s", r.Healthy, len(r.Databases), len(c.verdicts), out)
			}
			for _, d := range r.Databases {
				if want := c.verdicts[d.ID]; d.Verdict != want {
					t.Errorf("%s (%s): verdict %q, want %q", d.ID, d.Name, d.Verdict, want)
				}
			}

			// The table says the same, one line a database.
			code, table, _ := runOnceBinary(t, c.args...)
			if code != c.code {
				t.Errorf("table run: exit %d, want %d", code, c.code)
			}
			for id, verdict := range c.verdicts {
				if !strings.Contains(table, id) || !strings.Contains(table, verdict) {
					t.Errorf("the table lacks %s or %q:\n%s", id, verdict, table)
				}
			}
		})
	}

	// --demo --once says the data is simulated, in the table and the JSON.
	_, table, _ := runOnceBinary(t, "--demo")
	if !strings.HasPrefix(table, "configuration: built-in demo (simulated data)\n") {
		t.Errorf("the demo table does not say it is simulated:\n%s", table)
	}
}
