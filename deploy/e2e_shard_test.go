package deploy

// End-to-end test of sharding under the real Prometheus: three exporter
// replicas (--shard.count=3) read the fake API of scripts/fakeapi, a
// Prometheus with the shipped rules scrapes them, and one unsharded
// exporter, which Prometheus does not scrape, says what they should export
// together. scripts/e2e-shard.sh starts the fake and Prometheus and sets
// the variables below; without them this test skips.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
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

// Alerts a killed replica must raise, pending (their for: durations are
// 10 and 30 minutes): the target is down, and each database it read has
// no series any more.
const (
	alertExporterDown = "UpstashBackupExporterDown"
	// alertVanished (e2e_outage_test.go) is UpstashBackupDatabaseVanished.

	// shardCacheTTL outlasts the test, so that each replica reads the API
	// once however often Prometheus scrapes it, and a round is countable.
	shardCacheTTL = "10m"
)

// TestE2EShard: the replicas' per-database series are the unsharded
// exporter's, each database on exactly one replica; a round of the three
// costs one list-backup per database and one list-databases per replica; a
// replica killed with SIGKILL raises UpstashBackupExporterDown for its
// instance and UpstashBackupDatabaseVanished for exactly its databases,
// and nothing else; restarting it clears both.
func TestE2EShard(t *testing.T) {
	prom := strings.TrimRight(os.Getenv("E2E_SHARD_PROMETHEUS_URL"), "/")
	api := strings.TrimRight(os.Getenv("E2E_SHARD_FAKEAPI_URL"), "/")
	bin := os.Getenv("E2E_SHARD_EXPORTER_BIN")
	email, key := os.Getenv("E2E_SHARD_FAKEAPI_EMAIL"), os.Getenv("E2E_SHARD_FAKEAPI_KEY")
	addrs := strings.Fields(os.Getenv("E2E_SHARD_ADDRS"))
	unshardedAddr := os.Getenv("E2E_SHARD_UNSHARDED_ADDR")
	if prom == "" || api == "" || bin == "" || email == "" || key == "" || len(addrs) < 2 || unshardedAddr == "" {
		t.Skip("E2E_SHARD_PROMETHEUS_URL, E2E_SHARD_FAKEAPI_URL, E2E_SHARD_EXPORTER_BIN, E2E_SHARD_FAKEAPI_EMAIL, E2E_SHARD_FAKEAPI_KEY, E2E_SHARD_UNSHARDED_ADDR or E2E_SHARD_ADDRS (two or more) is not set; scripts/e2e-shard.sh runs this test")
	}
	start := time.Now()
	shards := len(addrs)
	ids := fakeDatabaseIDs(t, api, email, key)
	if want, err := strconv.Atoi(os.Getenv("E2E_SHARD_DATABASES")); err == nil && len(ids) != want {
		t.Fatalf("the fake lists %d databases, want %d", len(ids), want)
	}

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeTestFile(t, keyFile, key+"\n")
	config := filepath.Join(dir, "config.yml")
	writeTestFile(t, config, fmt.Sprintf("accounts:\n  - name: e2e\n    email: %q\n    api_key_file: %q\n    api_url: %q\n", email, keyFile, api))
	exporterArgs := func(shard int) []string {
		args := []string{"--config.file=" + config, "--upstash.cache-ttl=" + shardCacheTTL}
		if shard >= 0 {
			args = append(args, "--shard.count="+strconv.Itoa(shards), "--shard.index="+strconv.Itoa(shard))
		}
		return args
	}

	// 1. The unsharded exporter, scraped once by the test: what the
	// replicas must export together.
	fakeControl(t, api, "requests", nil)
	startShardExporter(t, "unsharded", bin, unshardedAddr, exporterArgs(-1)...)
	var whole exporterMetrics
	eventually(t, "the unsharded exporter reads every database", func() error {
		whole = scrapeExporter(t, unshardedAddr)
		if got := whole.collected(); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
			return fmt.Errorf("%d databases read successfully, the fake lists %d", len(got), len(ids))
		}
		return nil
	})
	calls := fakeRequests(t, api)
	t.Logf("unsharded exporter: %d per-database series for %d databases; one round: %v", len(whole.perDatabase), len(ids), calls)

	// 2. The replicas, each on the target Prometheus scrapes.
	fakeControl(t, api, "requests", nil)
	replicas := make([]*outageExporter, shards)
	for i, addr := range addrs {
		replicas[i] = startShardExporter(t, fmt.Sprintf("shard-%d", i), bin, addr, exporterArgs(i)...)
	}
	job := `job="` + exporterJob + `"`
	eventually(t, "Prometheus scrapes every replica", func() error {
		s, err := promQuery(t, prom, `upstash_backup_exporter_shards{`+job+`} == `+strconv.Itoa(shards))
		if err != nil {
			return err
		}
		if len(s) != shards {
			return fmt.Errorf("%d of %d replicas scraped", len(s), shards)
		}
		return nil
	})
	// The replicas' own answers, from their caches, once every database
	// has been read.
	answers := make([]exporterMetrics, shards)
	eventually(t, "the replicas read every database", func() error {
		read := 0
		for i, addr := range addrs {
			answers[i] = scrapeExporter(t, addr)
			read += len(answers[i].collected())
		}
		if read < len(ids) {
			return fmt.Errorf("%d databases read successfully, the fake lists %d", read, len(ids))
		}
		return nil
	})
	owner := map[string]int{} // database id -> replica
	union := map[string]int{} // per-database series -> replica
	perShard := make([][]string, shards)
	for i, m := range answers {
		if got := m.value(t, "upstash_backup_exporter_shard_index"); got != float64(i) {
			t.Errorf("replica %d: upstash_backup_exporter_shard_index %v", i, got)
		}
		if got := m.value(t, "upstash_backup_exporter_shards"); got != float64(shards) {
			t.Errorf("replica %d: upstash_backup_exporter_shards %v, want %d", i, got, shards)
		}
		for _, name := range []string{`upstash_up{account="e2e"}`, `upstash_redis_databases{account="e2e"}`} {
			if got, want := m.value(t, name), whole.value(t, name); got != want {
				t.Errorf("replica %d: %s %v, the unsharded exporter %v", i, name, got, want)
			}
		}
		perShard[i] = m.collected()
		for _, id := range perShard[i] {
			if j, dup := owner[id]; dup {
				t.Errorf("database %s is read by replicas %d and %d", id, j, i)
			}
			owner[id] = i
			if want := shardOf(id, shards); want != i {
				t.Errorf("database %s is read by replica %d, its FNV-1a hash modulo %d is %d", id, i, shards, want)
			}
		}
		for s := range m.perDatabase {
			if j, dup := union[s]; dup {
				t.Errorf("%s is exported by replicas %d and %d", s, j, i)
			}
			union[s] = i
		}
	}
	for s := range whole.perDatabase {
		if _, ok := union[s]; !ok {
			t.Errorf("%s: exported unsharded, by no replica", s)
		}
	}
	for s, i := range union {
		if _, ok := whole.perDatabase[s]; !ok {
			t.Errorf("%s: exported by replica %d, not unsharded", s, i)
		}
	}
	if len(owner) != len(ids) {
		t.Errorf("the replicas read %d databases successfully, the fake lists %d", len(owner), len(ids))
	}
	sizes := make([]int, shards)
	for i := range perShard {
		sizes[i] = len(perShard[i])
	}
	t.Logf("databases per replica %v; %d per-database series in all, as unsharded", sizes, len(union))
	// What a replica costs next to one exporter for every database.
	cost := func(m exporterMetrics) string {
		return fmt.Sprintf("%d series, %d bytes of /metrics, %.1f MiB resident", len(m.series), m.size, m.series["process_resident_memory_bytes"]/(1<<20))
	}
	for i, m := range answers {
		t.Logf("replica %d: %s", i, cost(m))
	}
	t.Logf("unsharded: %s", cost(whole))

	// The same seen from Prometheus: each database once.
	for _, q := range []struct {
		expr, what string
		want       int
	}{
		{`count by (database_id) (upstash_backup_exporter_collect_success{` + job + `}) > 1`, "databases on more than one replica", 0},
		{`count by (database_id) (upstash_backup_exporter_collect_success{` + job + `} == 1)`, "databases read", len(ids)},
	} {
		s, err := promQuery(t, prom, q.expr)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != q.want {
			t.Errorf("Prometheus: %d %s, want %d", len(s), q.what, q.want)
		}
	}

	// One round: every replica has been scraped at least once, and the
	// cache holds for the rest of the test. A few scrapes later the
	// counts have not moved.
	first := fakeRequests(t, api)
	time.Sleep(5 * time.Second) // two scrape intervals
	calls = fakeRequests(t, api)
	if !maps.Equal(first, calls) {
		t.Errorf("API calls moved within the cache TTL: %v, then %v", first, calls)
	}
	if calls["list_backup"] != int64(len(ids)) || calls["list_databases"] != int64(shards) || calls["get_database"] != 0 || calls["other"] != 0 {
		t.Errorf("one round of %d replicas: API calls %v, want %d list_backup and %d list_databases", shards, calls, len(ids), shards)
	}
	t.Logf("one round of %d replicas: API calls %v", shards, calls)

	// Nothing is alerted before a replica dies.
	eventually(t, "no alert with every replica up", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if len(alerts) > 0 {
			return fmt.Errorf("active: %s", alertList(alerts))
		}
		return nil
	})

	// 3. A replica dies.
	victim := 1
	host, _, err := net.SplitHostPort(addrs[victim])
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	replicas[victim].kill(t)
	var downAfter, vanishedAfter time.Duration
	eventually(t, "the killed replica's instance and databases alerted", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		var vanished []string
		down := false
		for _, a := range alerts {
			switch name := a.Labels["alertname"]; {
			case name == alertExporterDown && a.Labels["instance"] == host:
				down = true
			case name == alertVanished && a.Labels["database_id"] != "":
				if owner[a.Labels["database_id"]] != victim {
					t.Fatalf("%s for database %s of replica %d, which is up", name, a.Labels["database_id"], owner[a.Labels["database_id"]])
				}
				vanished = append(vanished, a.Labels["database_id"])
			default:
				t.Fatalf("unexpected alert %s (%s) %v", name, a.State, a.Labels)
			}
		}
		if down && downAfter == 0 {
			downAfter = time.Since(killed)
		}
		slices.Sort(vanished)
		if slices.Equal(vanished, perShard[victim]) && vanishedAfter == 0 {
			vanishedAfter = time.Since(killed)
		}
		if !down || len(vanished) != len(perShard[victim]) {
			return fmt.Errorf("%s for %s: %v; %s for %d of the replica's %d databases", alertExporterDown, host, down, alertVanished, len(vanished), len(perShard[victim]))
		}
		return nil
	})
	t.Logf("replica %d (instance %s, %d databases) killed: %s after %s, %s for exactly its %d databases after %s; %d alerts active, none other",
		victim, host, len(perShard[victim]), alertExporterDown, downAfter.Round(100*time.Millisecond),
		alertVanished, len(perShard[victim]), vanishedAfter.Round(100*time.Millisecond), 1+len(perShard[victim]))
	states := map[string]int{}
	alerts, err := activeAlerts(t, prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		states[a.Labels["alertname"]+"/"+a.State]++
	}
	t.Logf("alerts by state: %v", states)

	// 4. It comes back, on the same address: both alerts clear, and it
	// reads its databases again, and only those.
	fakeControl(t, api, "requests", nil)
	restarted := time.Now()
	startShardExporter(t, fmt.Sprintf("shard-%d-restarted", victim), bin, addrs[victim], exporterArgs(victim)...)
	eventually(t, "alerts cleared after the restart", func() error {
		alerts, err := activeAlerts(t, prom)
		if err != nil {
			return err
		}
		if len(alerts) > 0 {
			return fmt.Errorf("active: %d, %s", len(alerts), truncate(alertList(alerts), 300))
		}
		return nil
	})
	t.Logf("replica %d restarted: no alert after %s", victim, time.Since(restarted).Round(100*time.Millisecond))
	if got := scrapeExporter(t, addrs[victim]).collected(); !slices.Equal(got, perShard[victim]) {
		t.Errorf("the restarted replica reads %d databases, before %d", len(got), len(perShard[victim]))
	}
	calls = fakeRequests(t, api)
	if calls["list_backup"] != int64(len(perShard[victim])) || calls["list_databases"] != 1 {
		t.Errorf("the restart cost API calls %v, want %d list_backup and 1 list_databases", calls, len(perShard[victim]))
	}
	t.Logf("the restart cost API calls %v", calls)
	t.Logf("sharding scenario took %s", time.Since(start).Round(100*time.Millisecond))
}

// shardOf is the replica that reads a database, as collector.Shard.Owns
// computes it (FNV-1a, 64 bits, modulo the count).
func shardOf(id string, count int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum64() % uint64(count))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// exporterMetrics is one answer of /metrics: every series by its name and
// labels, and those with a database_id label apart.
type exporterMetrics struct {
	series      map[string]float64
	perDatabase map[string]float64
	size        int // bytes
}

// scrapeExporter reads /metrics of the exporter on addr.
func scrapeExporter(t *testing.T, addr string) exporterMetrics {
	t.Helper()
	body, err := httpGet(t, "http://"+addr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := exporterMetrics{series: map[string]float64{}, perDatabase: map[string]float64{}, size: len(body)}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("%s/metrics: %q", addr, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s/metrics: %q: %v", addr, line, err)
		}
		m.series[line[:i]] = v
		if strings.Contains(line[:i], `database_id="`) {
			m.perDatabase[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// collected returns the database ids whose collect_success is 1, sorted.
func (m exporterMetrics) collected() []string {
	var ids []string
	for s, v := range m.perDatabase {
		rest, ok := strings.CutPrefix(s, "upstash_backup_exporter_collect_success{")
		if !ok || v != 1 {
			continue
		}
		_, rest, _ = strings.Cut(rest, `database_id="`)
		id, _, _ := strings.Cut(rest, `"`)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// value is the value of one series, which must be there.
func (m exporterMetrics) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := m.series[series]
	if !ok {
		t.Fatalf("no series %s", series)
	}
	return v
}

// fakeRequests returns the fake's API call counts by endpoint.
func fakeRequests(t *testing.T, api string) map[string]int64 {
	t.Helper()
	b, err := httpGet(t, api+"/-/fake/requests")
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]int64
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatal(err)
	}
	return counts
}

// startShardExporter runs the exporter binary on addr with args and waits
// until it is ready. Its pid goes to $E2E_SHARD_PIDDIR/name.pid, from which
// the script kills it should this test die before its cleanup; its log is
// shown when the test fails.
func startShardExporter(t *testing.T, name, bin, addr string, args ...string) *outageExporter {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, "--web.listen-address="+addr)...)
	cmd.Env = append(os.Environ(), "UPSTASH_EMAIL=", "UPSTASH_API_KEY=", "GOMEMLIMIT=")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &outageExporter{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(e.exited) }()
	if d := os.Getenv("E2E_SHARD_PIDDIR"); d != "" {
		writeTestFile(t, filepath.Join(d, name+".pid"), strconv.Itoa(cmd.Process.Pid)+"\n")
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
			t.Logf("%s:\n%s", filepath.Base(logPath), truncate(string(b), 4000))
		}
	})
	eventually(t, name+" ready on "+addr, func() error {
		select {
		case <-e.exited:
			t.Fatalf("%s exited: %v", name, cmd.ProcessState)
		default:
		}
		_, err := httpGet(t, "http://"+addr+"/-/ready")
		return err
	})
	return e
}
