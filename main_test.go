package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// These tests run the real binary, built once by TestMain, as an operator
// would: flags, environment, files, signals and HTTP on loopback.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "upstash_backup_exporter-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, exporterName)
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the exporter:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	// The in-process tests start exporters, fake APIs and clients; none of
	// their goroutines may outlive them.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// contractMetrics is every metric name of the metric contract
// (../shared/design/metrics.md, with the additions and changes of
// CHANGELOG.md), which --demo must show in full. Series that exist only
// while something is wrong (backup_entries_unreadable,
// api_held_until_timestamp_seconds) are left out: the demo is healthy
// there.
var contractMetrics = []string{
	"upstash_redis_databases",
	"upstash_redis_backups",
	"upstash_redis_backup_newest_timestamp_seconds",
	"upstash_redis_backup_last_completed_timestamp_seconds",
	"upstash_redis_backup_last_failed_timestamp_seconds",
	"upstash_redis_backup_oldest_pending_timestamp_seconds",
	"upstash_redis_backup_oldest_completed_timestamp_seconds",
	"upstash_redis_backup_last_completed_size_bytes",
	"upstash_redis_backup_retained_size_bytes",
	"upstash_redis_backup_latest_state",
	"upstash_redis_backup_expected_interval_seconds",
	"upstash_redis_database_info",
	"upstash_redis_database_daily_backup_enabled",
	"upstash_up",
	"upstash_backup_exporter_collect_success",
	"upstash_backup_exporter_last_collect_success_timestamp_seconds",
	"upstash_backup_exporter_collect_duration_seconds",
	"upstash_backup_exporter_api_requests_total",
	"upstash_backup_exporter_api_request_duration_seconds",
	"upstash_backup_exporter_config_last_reload_successful",
	"upstash_backup_exporter_config_last_reload_success_timestamp_seconds",
	"upstash_backup_exporter_build_info",
	"upstash_backup_exporter_shard_index",
	"upstash_backup_exporter_shards",
	"upstash_redis_backup_required_retention_seconds",
	"upstash_redis_backups_in_required_retention",
	"upstash_redis_backup_largest_gap_seconds",
	"upstash_redis_backup_earlier_completed_size_median_bytes",
}

// syncBuffer collects a child's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type runningExporter struct {
	url    string
	cmd    *exec.Cmd
	output *syncBuffer
	exited chan error
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// startExporter runs the binary and waits until /-/ready answers. It is
// stopped with SIGTERM at the end of the test, which must end it cleanly.
func startExporter(t *testing.T, env []string, args ...string) *runningExporter {
	t.Helper()
	addr := freeAddress(t)
	cmd := exec.Command(binary, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &runningExporter{url: "http://" + addr, cmd: cmd, output: out, exited: make(chan error, 1)}
	go func() { e.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-e.exited:
			if err != nil {
				t.Errorf("exporter did not exit cleanly on SIGTERM: %v\n%s", err, out)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("exporter did not exit within 15s of SIGTERM\n%s", out)
		}
	})
	// A child process cannot signal readiness except through its port, so
	// this polls, bounded, and stops early if the child dies.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(e.url + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		select {
		case err := <-e.exited:
			t.Fatalf("exporter exited before it was ready: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready after 20s\n%s", out)
		}
	}
}

func httpDo(t *testing.T, method, url string, header map[string]string) (int, string) {
	t.Helper()
	return httpDoWith(t, http.DefaultClient, method, url, header)
}

// httpDoWith makes one request with client and returns its status and body.
func httpDoWith(t *testing.T, client *http.Client, method, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func scrape(t *testing.T, e *runningExporter) string {
	t.Helper()
	code, body := httpDo(t, http.MethodGet, e.url+"/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "10"})
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d:\n%s", code, body)
	}
	return body
}

// metricNames lists the metric families of an exposition.
func metricNames(exposition string) map[string]bool {
	names := map[string]bool{}
	re := regexp.MustCompile(`^# TYPE (\S+) `)
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

// requireTool finds a tool the test needs; in CI its absence is a failure,
// elsewhere the test is skipped with a loud message.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (scripts/setup.sh installs it)", name)
	}
	t.Skipf("SKIPPED: %s is not installed; run scripts/setup.sh. This check did not run.", name)
	return ""
}

func TestDemoServesTheWholeContract(t *testing.T) {
	t.Parallel()
	e := startExporter(t, nil, "--demo")
	metrics := scrape(t, e)

	names := metricNames(metrics)
	for _, m := range contractMetrics {
		if !names[m] {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	for _, want := range []string{
		`upstash_up{account="demo"} 1`,
		`upstash_redis_backup_latest_state{database_id="` + demo.FailingID + `",state="failed"} 1`,
		`upstash_redis_backups{database_id="` + demo.NeverBackedUpID + `",state="completed"} 0`,
		`upstash_redis_backup_expected_interval_seconds{database_id="` + demo.HourlyID + `"} 3600`,
		`upstash_backup_exporter_config_last_reload_successful 1`,
		// The demo account requires 6 days of restore points.
		`upstash_redis_backup_required_retention_seconds{database_id="` + demo.HealthyDailyID + `"} 518400`,
		// inventory misses a day: two days between two of its backups.
		`upstash_redis_backup_largest_gap_seconds{database_id="` + demo.GapID + `"} 172800`,
		`upstash_redis_backup_largest_gap_seconds{database_id="` + demo.HealthyDailyID + `"} 86400`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// search-index's newest completed backup is a tenth of the earlier ones.
	samples := series(metrics)
	size, _ := strconv.ParseFloat(samples[`upstash_redis_backup_last_completed_size_bytes{database_id="`+demo.ShrunkID+`"}`], 64)
	median, _ := strconv.ParseFloat(samples[`upstash_redis_backup_earlier_completed_size_median_bytes{database_id="`+demo.ShrunkID+`"}`], 64)
	if size <= 0 || median <= 0 || size > median/5 {
		t.Errorf("search-index: newest completed size %v, median of the earlier %v: want a tenth", size, median)
	}
	if strings.Contains(metrics, "upstash_redis_backup_newest_timestamp_seconds{database_id=\""+demo.NeverBackedUpID) {
		t.Error("a database without backups has a newest-backup series; it must be absent")
	}
	if !strings.Contains(e.output.String(), "simulated") {
		t.Errorf("demo mode does not log that its data is simulated:\n%s", e.output)
	}

	code, landing := httpDo(t, http.MethodGet, e.url+"/", nil)
	if code != http.StatusOK || !strings.Contains(landing, "/metrics") || !strings.Contains(landing, "DEMO MODE") {
		t.Errorf("landing page (%d) lacks the metrics link or the demo notice:\n%s", code, landing)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/-/healthy", 200},
		{http.MethodGet, "/-/ready", 200},
		{http.MethodGet, "/-/reload", 405},
		{http.MethodPut, "/-/reload", 405},
		{http.MethodPost, "/-/reload", 200},
	} {
		if code, body := httpDo(t, c.method, e.url+c.path, nil); code != c.want {
			t.Errorf("%s %s = %d, want %d: %s", c.method, c.path, code, c.want, body)
		}
	}

	promtool := requireTool(t, "promtool")
	check := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	check.Stdin = strings.NewReader(metrics)
	out, err := check.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const (
		email    = "leak-test@example.com"
		rightKey = "right-key-b7c9e1f3a5d7"
		wrongKey = "wrong-key-4e6a8c0b2d4f"
	)
	fake := upstashtest.NewServer(upstashtest.WithCredentials(email, rightKey))
	t.Cleanup(fake.Close)
	fake.AddDatabase(upstashtest.Database{ID: "db-leak-1", Name: "orders", DailyBackupEnabled: true})

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, wrongKey+"\n")
	cfg := filepath.Join(dir, "config.yml")
	writeFile(t, cfg, fmt.Sprintf("accounts:\n  - name: wrong\n    email: %s\n    api_key_file: %s\n    api_url: %s\n  - name: right\n    email: %s\n    api_key: %s\n    api_url: %s\n",
		email, keyFile, fake.URL, email, rightKey, fake.URL))
	badCfg := filepath.Join(dir, "bad.yml")
	writeFile(t, badCfg, fmt.Sprintf("accounts:\n  - name: right\n    email: %s\n    api_key: %s\n    api_url: %s\n    colour: blue\n", email, rightKey, fake.URL))

	var seen []string
	for _, format := range []string{"text", "json"} {
		e := startExporter(t, nil, "--config.file="+cfg, "--log.level=debug", "--log.format="+format)
		metrics := scrape(t, e)
		if !strings.Contains(metrics, `upstash_up{account="wrong"} 0`) || !strings.Contains(metrics, `upstash_up{account="right"} 1`) {
			t.Errorf("expected the wrong key to be rejected and the right one accepted:\n%s", metrics)
		}
		_, landing := httpDo(t, http.MethodGet, e.url+"/", nil)
		seen = append(seen, metrics, landing, e.output.String())
	}

	// Errors: a bad file at start, --config.check of good and bad files.
	for _, args := range [][]string{
		{"--config.file=" + badCfg},
		{"--config.file=" + badCfg, "--config.check"},
		{"--config.file=" + cfg, "--config.check"},
	} {
		out, _ := exec.CommandContext(t.Context(), binary, args...).CombinedOutput()
		seen = append(seen, string(out))
	}
	if !strings.Contains(seen[len(seen)-3], "colour") {
		t.Errorf("bad configuration error does not name the field:\n%s", seen[len(seen)-3])
	}

	secrets := map[string]string{
		"right key":                 rightKey,
		"wrong key":                 wrongKey,
		"basic auth of right key":   base64.StdEncoding.EncodeToString([]byte(email + ":" + rightKey)),
		"basic auth of wrong key":   base64.StdEncoding.EncodeToString([]byte(email + ":" + wrongKey)),
		"base64 of right key alone": base64.StdEncoding.EncodeToString([]byte(rightKey)),
	}
	for _, text := range seen {
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in output:\n%s", what, text)
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	writeFile(t, good, "accounts:\n  - name: production\n    email: ops@example.com\n    api_key: k\n    databases:\n      - id: db1\n        expected_interval: 24h\n")
	bad := filepath.Join(dir, "bad.yml")
	writeFile(t, bad, "accounts:\n  - name: production\n    email: ops@example.com\n    api_key: k\n    databases:\n      - id: db1\n        expected_interval: 1x\n")

	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		want     string
	}{
		{"valid file", []string{"--config.file=" + good, "--config.check"}, nil, 0, "production"},
		{"invalid file", []string{"--config.file=" + bad, "--config.check"}, nil, 1, bad + `:7: accounts[0].databases[0].expected_interval: unknown unit "x" in duration "1x"`},
		{"invalid file at start", []string{"--config.file=" + bad}, nil, 1, `accounts[0].databases[0].expected_interval`},
		{"missing file", []string{"--config.file=" + filepath.Join(dir, "nope.yml"), "--config.check"}, nil, 1, "nope.yml"},
		{"environment", []string{"--config.check"}, []string{"UPSTASH_EMAIL=ops@example.com", "UPSTASH_API_KEY=k"}, 0, "default"},
		{"environment without key", []string{"--config.check"}, []string{"UPSTASH_EMAIL=ops@example.com"}, 1, "UPSTASH_API_KEY"},
		{"demo", []string{"--config.check", "--demo"}, nil, 0, "built-in demo (simulated data)"},
		{"unknown flag", []string{"--no-such-flag"}, nil, 2, "unknown long flag"},
		{"version", []string{"--version"}, nil, 0, "upstash_backup_exporter, version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), binary, tt.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %d, want %d; output should contain %q:\n%s", code, tt.wantCode, tt.want, out)
			}
		})
	}
}

func TestReloadKeepsTheOldConfigurationOnError(t *testing.T) {
	t.Parallel()
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddDatabase(upstashtest.Database{ID: "db-a", Name: "alpha"})
	fake.AddDatabase(upstashtest.Database{ID: "db-b", Name: "beta"})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	account := fmt.Sprintf("accounts:\n  - name: main\n    email: %s\n    api_key: %s\n    api_url: %s\n", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake.URL)
	writeFile(t, cfg, account+"    databases:\n      - id: db-a\n")
	e := startExporter(t, nil, "--config.file="+cfg)
	if m := scrape(t, e); !strings.Contains(m, `upstash_backup_exporter_collect_success{database_id="db-a"} 1`) || strings.Contains(m, `"db-b"`) {
		t.Fatalf("first configuration not in force:\n%s", m)
	}

	writeFile(t, cfg, account+"    databases:\n      - id: db-b\n        expected_interval: -1h\n")
	code, body := httpDo(t, http.MethodPost, e.url+"/-/reload", nil)
	if code != http.StatusInternalServerError || !strings.Contains(body, "expected_interval") {
		t.Errorf("reload of a bad file answered %d: %s", code, body)
	}
	m := scrape(t, e)
	for _, want := range []string{
		`upstash_backup_exporter_config_last_reload_successful 0`,
		`upstash_backup_exporter_collect_success{database_id="db-a"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("after a failed reload /metrics lacks %q:\n%s", want, m)
		}
	}

	// SIGHUP with a good file swaps the configuration in.
	writeFile(t, cfg, account+"    databases:\n      - id: db-b\n")
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := scrape(t, e)
		if strings.Contains(m, `upstash_backup_exporter_config_last_reload_successful 1`) &&
			strings.Contains(m, `upstash_backup_exporter_collect_success{database_id="db-b"} 1`) &&
			!strings.Contains(m, `"db-a"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not load the new configuration:\n%s\n%s", m, e.output)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(content string) string {
		path := filepath.Join(dir, fmt.Sprintf("memory.max-%d", len(content)))
		writeFile(t, path, content)
		return path
	}
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		name   string
		getenv func(string) string
		path   string
		want   int64
		ok     bool
	}{
		{"128 MiB", noEnv, file("134217728\n"), 120795948, true}, // 134217728 / 10 * 9
		{"no limit", noEnv, file("max\n"), 0, false},
		{"GOMEMLIMIT set", func(k string) string { return map[string]string{"GOMEMLIMIT": "100MiB"}[k] }, file("134217728\n"), 0, false},
		{"no file", noEnv, filepath.Join(dir, "none"), 0, false},
		{"not a number", noEnv, file("12ab\n"), 0, false},
		{"zero", noEnv, file("0"), 0, false},
	} {
		got, ok := memoryLimit(c.getenv, c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: memoryLimit = %d, %t; want %d, %t", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestEveryFlagIsDocumented: each flag --help lists has its row in the
// README's flag table, and the table lists no flag the binary lacks.
func TestEveryFlagIsDocumented(t *testing.T) {
	t.Parallel()
	var help, errs bytes.Buffer
	if code := run([]string{"--help"}, &help, &errs, func(string) string { return "" }); code != 0 {
		t.Fatalf("--help exited %d: %s", code, errs.String())
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagName := regexp.MustCompile(`--[a-z][a-z0-9.-]+`)
	documented := map[string]bool{}
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "| `--") {
			for _, f := range flagName.FindAllString(strings.SplitN(line, "|", 3)[1], -1) {
				documented[f] = true
			}
		}
	}
	// A flag's line: "--name=VALUE", "--[no-]name", "-h, --[no-]help".
	helpFlag := regexp.MustCompile(`^(?:-\w, )?--(?:\[no-\])?([a-z][a-z0-9.-]+)`)
	listed := map[string]bool{}
	for line := range strings.Lines(help.String()) {
		if m := helpFlag.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			listed["--"+m[1]] = true
		}
	}
	for _, f := range []string{"--help", "--help-long", "--help-man", "--completion-bash", "--completion-script-bash", "--completion-script-zsh"} {
		delete(listed, f)
	}
	for f := range listed {
		if !documented[f] {
			t.Errorf("%s is a flag but has no row in README.md's flag table", f)
		}
	}
	for f := range documented {
		if !listed[f] && f != "--help" {
			t.Errorf("README.md documents %s, which --help does not list", f)
		}
	}
}
