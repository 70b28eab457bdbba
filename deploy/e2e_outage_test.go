package deploy

// End-to-end test of an API outage under the real Prometheus: the exporter
// binary, in discovery mode, reads the fake API of scripts/fakeapi (a
// separate process); a second Prometheus, with the shipped rules, scrapes
// it. scripts/e2e-prometheus.sh starts the fake and that Prometheus and
// sets the variables below; without them this test skips.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Alerts the outage test accepts as "the stale database is still watched"
// and "the account's databases are gone", by the metric contract.
const (
	alertNoRecent      = "UpstashBackupNoRecentCompleted"
	alertUnreadable    = "UpstashAccountUnreadable"
	alertNoDatabases   = "UpstashAccountListsNoDatabases"
	alertVanished      = "UpstashBackupDatabaseVanished"
	outageHoldDuration = 6 * time.Second // three evaluations at 2s
)

// TestE2EOutage: one stale database among healthy ones raises
// UpstashBackupNoRecentCompleted; then the API fails (list-databases and
// list-backup answer 503) and the exporter is killed with SIGKILL and
// restarted, so it comes back knowing no database: the stale database's
// alert, or UpstashAccountUnreadable, must stay pending or firing. Then the
// API recovers, and list-databases answers 200 [] (a valid key of the
// wrong team):
// UpstashAccountListsNoDatabases or UpstashBackupDatabaseVanished must be
// pending or firing. Throughout, the healthy databases raise no alert but
// UpstashBackupDatabaseVanished, which is what their disappearance from
// /metrics calls for.
func TestE2EOutage(t *testing.T) {
	prom := e2eURL(t, "E2E_OUTAGE_PROMETHEUS_URL")
	api := e2eURL(t, "E2E_FAKEAPI_URL")
	addr := os.Getenv("E2E_OUTAGE_EXPORTER_ADDR")
	bin := os.Getenv("E2E_EXPORTER_BIN")
	email, key := os.Getenv("E2E_FAKEAPI_EMAIL"), os.Getenv("E2E_FAKEAPI_KEY")
	if addr == "" || bin == "" || email == "" || key == "" {
		t.Skip("E2E_OUTAGE_EXPORTER_ADDR, E2E_EXPORTER_BIN, E2E_FAKEAPI_EMAIL or E2E_FAKEAPI_KEY is not set; scripts/e2e-prometheus.sh runs this test")
	}
	start := time.Now()
	ids := fakeDatabaseIDs(t, api, email, key)
	if len(ids) < 2 {
		t.Fatalf("the fake lists %d databases, want at least 2", len(ids))
	}
	stale, healthy := ids[1], slices.Delete(slices.Clone(ids), 1, 2)
	fakeControl(t, api, "stale", url.Values{"db": {stale}, "age": {"50h"}})
	t.Logf("stale database %s, healthy %v", stale, healthy)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeTestFile(t, keyFile, key+"\n")
	config := filepath.Join(dir, "config.yml")
	writeTestFile(t, config, fmt.Sprintf("accounts:\n  - name: e2e\n    email: %q\n    api_key_file: %q\n    api_url: %q\n", email, keyFile, api))
	exporter := startOutageExporter(t, bin, config, addr, filepath.Join(dir, "exporter-1.log"))

	// 1. The stale database's alert is raised, nothing for the others.
	phase := time.Now()
	eventually(t, "stale database alerted", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if err := healthyQuiet(alerts, healthy, nil); err != nil {
			t.Fatal(err)
		}
		if !hasAlert(alerts, alertNoRecent, stale) {
			return fmt.Errorf("no %s for %s; active: %s", alertNoRecent, stale, alertList(alerts))
		}
		return nil
	})
	t.Logf("%s pending or firing for the stale database after %s", alertNoRecent, time.Since(phase).Round(100*time.Millisecond))

	// 2. Restart during an outage. The exporter dies first and the API
	// fails before it comes back, so no scrape of the old process sees the
	// failing API: what follows is only what a restart during an outage
	// leaves to the rules.
	phase = time.Now()
	exporter.kill(t)
	fakeControl(t, api, "fault", url.Values{"endpoint": {"list_databases"}, "status": {"503"}})
	fakeControl(t, api, "fault", url.Values{"endpoint": {"list_backup"}, "db": {"*"}, "status": {"503"}})
	startOutageExporter(t, bin, config, addr, filepath.Join(dir, "exporter-2.log"))
	eventually(t, "restarted exporter scraped with the API down", func() error {
		s, err := promQuery(t, prom, `upstash_up{job="`+exporterJob+`"} == 0`)
		if err != nil {
			return err
		}
		if len(s) == 0 {
			return errors.New("upstash_up == 0 not stored yet")
		}
		return nil
	})
	var last string
	holds(t, "stale database still alerted after the restart", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if err := healthyQuiet(alerts, healthy, []string{alertVanished}); err != nil {
			t.Fatal(err)
		}
		last = alertList(alerts)
		if !hasAlert(alerts, alertNoRecent, stale) && !hasAlert(alerts, alertUnreadable, "") {
			return fmt.Errorf("neither %s for %s nor %s; active: %s", alertNoRecent, stale, alertUnreadable, alertList(alerts))
		}
		return nil
	})
	t.Logf("after SIGKILL and restart with the API answering 503, alerted for %s (phase took %s): %s", outageHoldDuration, time.Since(phase).Round(100*time.Millisecond), last)

	// The API recovers: every database is read again and nothing says it
	// vanished, so that what follows starts from a working account.
	phase = time.Now()
	fakeControl(t, api, "clear", nil)
	eventually(t, "recovered", func() error {
		s, err := promQuery(t, prom, `upstash_backup_exporter_collect_success{job="`+exporterJob+`"} == 1`)
		if err != nil {
			return err
		}
		if len(s) != len(ids) {
			return fmt.Errorf("%d databases read successfully, want %d", len(s), len(ids))
		}
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if hasAlert(alerts, alertVanished, "") {
			return fmt.Errorf("%s still active: %s", alertVanished, alertList(alerts))
		}
		return nil
	})
	t.Logf("API back: every database read, no %s, after %s", alertVanished, time.Since(phase).Round(100*time.Millisecond))

	// 3. The account lists no database.
	phase = time.Now()
	fakeControl(t, api, "fault", url.Values{"endpoint": {"list_databases"}, "body": {"[]"}})
	holds(t, "empty database list alerted", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if err := healthyQuiet(alerts, healthy, []string{alertVanished}); err != nil {
			t.Fatal(err)
		}
		last = alertList(alerts)
		if !hasAlert(alerts, alertNoDatabases, "") && !hasAlert(alerts, alertVanished, "") {
			return fmt.Errorf("neither %s nor %s; active: %s", alertNoDatabases, alertVanished, last)
		}
		return nil
	})
	t.Logf("list-databases answering [] alerted for %s (phase took %s): %s", outageHoldDuration, time.Since(phase).Round(100*time.Millisecond), last)
	t.Logf("outage scenario took %s", time.Since(start).Round(100*time.Millisecond))
}

// holds waits, as eventually does, until check passes, and then requires it
// to keep passing for outageHoldDuration: an alert that Prometheus drops
// for an evaluation and raises again is not "still pending".
func holds(t *testing.T, what string, check func() error) {
	t.Helper()
	eventually(t, what, check)
	for end := time.Now().Add(outageHoldDuration); time.Now().Before(end); {
		time.Sleep(time.Second)
		if err := check(); err != nil {
			t.Fatalf("%s: passed, then failed: %v", what, err)
		}
	}
}

// hasAlert reports whether name is active, for database_id db unless db
// is empty.
func hasAlert(alerts []promAlert, name, db string) bool {
	return slices.ContainsFunc(alerts, func(a promAlert) bool {
		return a.Labels["alertname"] == name && (db == "" || a.Labels["database_id"] == db)
	})
}

// healthyQuiet returns an error naming any active alert of a healthy
// database other than the allowed ones.
func healthyQuiet(alerts []promAlert, healthy, allowed []string) error {
	for _, a := range alerts {
		if slices.Contains(healthy, a.Labels["database_id"]) && !slices.Contains(allowed, a.Labels["alertname"]) {
			return fmt.Errorf("healthy database %s raises %s (%s)", a.Labels["database_id"], a.Labels["alertname"], a.State)
		}
	}
	return nil
}

func alertList(alerts []promAlert) string {
	var s []string
	for _, a := range alerts {
		x := a.Labels["alertname"] + "/" + a.State
		if db := a.Labels["database_id"]; db != "" {
			x += "{" + db + "}"
		}
		s = append(s, x)
	}
	slices.Sort(s)
	return "[" + strings.Join(s, " ") + "]"
}

// fakeDatabaseIDs lists the fake's databases as the exporter would.
func fakeDatabaseIDs(t *testing.T, api, email, key string) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/redis/databases", nil)
	req.SetBasicAuth(email, key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dbs []struct {
		ID string `json:"database_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dbs); err != nil {
		t.Fatalf("list-databases of the fake: %s: %v", resp.Status, err)
	}
	var ids []string
	for _, d := range dbs {
		ids = append(ids, d.ID)
	}
	return ids
}

// fakeControl changes the fake's behaviour (scripts/fakeapi).
func fakeControl(t *testing.T, api, what string, query url.Values) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, api+"/-/fake/"+what+"?"+query.Encode(), nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("POST /-/fake/%s?%s: %s: %s", what, query.Encode(), resp.Status, bytes.TrimSpace(b.Bytes()))
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type outageExporter struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startOutageExporter runs the exporter binary on addr and waits until it
// is ready. Its pid goes to $E2E_OUTAGE_PIDFILE, from which the script
// kills it should this test die before its cleanup. Its log is shown when
// the test fails.
func startOutageExporter(t *testing.T, bin, config, addr, logPath string) *outageExporter {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--web.listen-address="+addr)
	cmd.Env = append(os.Environ(), "UPSTASH_EMAIL=", "UPSTASH_API_KEY=", "GOMEMLIMIT=")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &outageExporter{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(e.exited) }()
	if f := os.Getenv("E2E_OUTAGE_PIDFILE"); f != "" {
		writeTestFile(t, f, strconv.Itoa(cmd.Process.Pid)+"\n")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-e.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", filepath.Base(logPath), b)
		}
	})
	u := "http://" + addr + "/-/ready"
	eventually(t, "exporter ready on "+addr, func() error {
		select {
		case <-e.exited:
			t.Fatalf("exporter exited: %v", cmd.ProcessState)
		default:
		}
		_, err := httpGet(t, u)
		return err
	})
	return e
}

// kill ends the exporter with SIGKILL, as the kernel or kubelet would.
func (e *outageExporter) kill(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-e.exited
}
