package deploy

// End-to-end test of an HA pair under the real Prometheus: two exporter
// replicas with identical configurations read the fake API of
// scripts/fakeapi, and a Prometheus with the shipped rules scrapes both.
// scripts/e2e-ha.sh starts the fake and Prometheus and sets the variables
// below; without them this test skips.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// haAlert is an alert of Prometheus' API with the time it became active:
// an alert that keeps it across a replica's death has kept its identity
// (same labels), rather than ended and started again.
type haAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

// key is what tells the alerts of one database or account apart: every
// label but the replica's. Two alerts with the same key are the same alert
// raised twice.
func (a haAlert) key() string {
	l := maps.Clone(a.Labels)
	delete(l, "instance")
	delete(l, "pod")
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func haActiveAlerts(t *testing.T, prom string) ([]haAlert, error) {
	b, err := httpGet(t, prom+"/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Alerts []haAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	var active []haAlert
	for _, a := range r.Data.Alerts {
		if a.State == "pending" || a.State == "firing" {
			active = append(active, a)
		}
	}
	return active, nil
}

// haState is what the pair alerts: the stale database's alerts by name
// (and reason, for the alerts of several rules), the ExporterDown alerts
// by instance, and the ReplicaDegraded alerts.
type haState struct {
	stale    map[string]haAlert
	down     map[string]haAlert
	degraded []haAlert
}

// haCheck sorts the active alerts, failing on a duplicate (two alerts
// that differ only in instance or pod), an alert of a healthy database,
// an instance label on anything but UpstashBackupExporterDown and
// UpstashBackupExporterReplicaDegraded, or any other alert.
func haCheck(alerts []haAlert, stale string) (haState, error) {
	s := haState{stale: map[string]haAlert{}, down: map[string]haAlert{}}
	seen := map[string]int{}
	for _, a := range alerts {
		name := a.Labels["alertname"]
		if name == alertExporterDown {
			s.down[a.Labels["instance"]] = a
			continue
		}
		if name == alertReplicaDegraded {
			s.degraded = append(s.degraded, a)
			continue
		}
		if seen[a.key()]++; seen[a.key()] > 1 {
			return s, fmt.Errorf("%s raised more than once: %s", name, haList(alerts))
		}
		if inst := a.Labels["instance"]; inst != "" {
			return s, fmt.Errorf("%s carries instance %q: one replica's alert, not the pair's", name, inst)
		}
		if a.Labels["database_id"] != stale {
			return s, fmt.Errorf("unexpected alert %s (%s) %v", name, a.State, a.Labels)
		}
		if r := a.Labels["reason"]; r != "" {
			name += "/" + r
		}
		s.stale[name] = a
	}
	return s, nil
}

func haList(alerts []haAlert) string {
	var s []string
	for _, a := range alerts {
		x := a.Labels["alertname"] + "/" + a.State
		if db := a.Labels["database_id"]; db != "" {
			x += "{" + db + "}"
		}
		if i := a.Labels["instance"]; i != "" {
			x += "@" + i
		}
		s = append(s, x)
	}
	slices.Sort(s)
	return "[" + strings.Join(s, " ") + "]"
}

// TestE2EHA: one stale database among healthy ones, watched by two
// replicas, raises each of its alerts once (no instance label), and the
// healthy ones none; killing a replica with SIGKILL keeps exactly those
// alerts, with the times they became active, and adds only
// UpstashBackupExporterDown for the dead instance, severity warning; the
// pair costs the API at most 2 list-backup calls per database per cache
// TTL (the TTL being the scrape interval). Then the replica comes back
// unable to read one database, then the account (haReplicaDegraded).
func TestE2EHA(t *testing.T) {
	prom := strings.TrimRight(os.Getenv("E2E_HA_PROMETHEUS_URL"), "/")
	api := strings.TrimRight(os.Getenv("E2E_HA_FAKEAPI_URL"), "/")
	bin := os.Getenv("E2E_HA_EXPORTER_BIN")
	email, key := os.Getenv("E2E_HA_FAKEAPI_EMAIL"), os.Getenv("E2E_HA_FAKEAPI_KEY")
	addrs := strings.Fields(os.Getenv("E2E_HA_ADDRS"))
	ttl, ttlErr := time.ParseDuration(os.Getenv("E2E_HA_CACHE_TTL"))
	if prom == "" || api == "" || bin == "" || email == "" || key == "" || len(addrs) != 2 || ttlErr != nil || ttl <= 0 {
		t.Skip("E2E_HA_PROMETHEUS_URL, E2E_HA_FAKEAPI_URL, E2E_HA_EXPORTER_BIN, E2E_HA_FAKEAPI_EMAIL, E2E_HA_FAKEAPI_KEY, E2E_HA_CACHE_TTL or E2E_HA_ADDRS (two) is not set; scripts/e2e-ha.sh runs this test")
	}
	// startShardExporter writes the replicas' pids where the script finds
	// them should this test die before its cleanup.
	t.Setenv("E2E_SHARD_PIDDIR", os.Getenv("E2E_HA_PIDDIR"))
	start := time.Now()
	ids := fakeDatabaseIDs(t, api, email, key)
	if want, err := strconv.Atoi(os.Getenv("E2E_HA_DATABASES")); err == nil && len(ids) != want {
		t.Fatalf("the fake lists %d databases, want %d", len(ids), want)
	}
	if len(ids) < 2 {
		t.Fatalf("the fake lists %d databases, want at least 2", len(ids))
	}
	stale := ids[1]
	fakeControl(t, api, "stale", url.Values{"db": {stale}, "age": {"50h"}})
	t.Logf("stale database %s, %d healthy", stale, len(ids)-1)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeTestFile(t, keyFile, key+"\n")
	config := filepath.Join(dir, "config.yml")
	writeTestFile(t, config, fmt.Sprintf("accounts:\n  - name: e2e\n    email: %q\n    api_key_file: %q\n    api_url: %q\n", email, keyFile, api))

	// 1. The pair: identical configurations, both scraped.
	replicas := make([]*outageExporter, len(addrs))
	hosts := make([]string, len(addrs))
	for i, addr := range addrs {
		replicas[i] = startShardExporter(t, fmt.Sprintf("replica-%d", i), bin, addr,
			"--config.file="+config, "--upstash.cache-ttl="+ttl.String())
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = host
	}
	job := `job="` + exporterJob + `"`
	eventually(t, "Prometheus reads every database on both replicas", func() error {
		s, err := promQuery(t, prom, `count by (database_id) (upstash_backup_exporter_collect_success{`+job+`} == 1) == 2`)
		if err != nil {
			return err
		}
		if len(s) != len(ids) {
			return fmt.Errorf("%d of %d databases read by both replicas", len(s), len(ids))
		}
		return nil
	})

	// 2. The API cost over several TTLs, while only Prometheus scrapes.
	windows := 10
	fakeControl(t, api, "requests", nil)
	time.Sleep(time.Duration(windows) * ttl)
	calls := fakeRequests(t, api)
	perDBPerTTL := float64(calls["list_backup"]) / float64(len(ids)) / float64(windows)
	t.Logf("API calls over %d cache TTLs of %s (the scrape interval) with 2 replicas: %v; list-backup per database per TTL: %.2f, list-databases per TTL: %.2f",
		windows, ttl, calls, perDBPerTTL, float64(calls["list_databases"])/float64(windows))
	// Each replica reads a database at most once per TTL; a window may
	// catch one read more at each end.
	if limit := int64(len(addrs) * len(ids) * (windows + 1)); calls["list_backup"] > limit || calls["list_backup"] == 0 {
		t.Errorf("list-backup calls in %d TTLs: %d, want between 1 and %d (one per replica, database and TTL)", windows, calls["list_backup"], limit)
	}
	if calls["get_database"] != 0 || calls["other"] != 0 {
		t.Errorf("unexpected API calls: %v", calls)
	}

	// 3. The stale database's alerts, once each; nothing else.
	// bothUp is the alerts' state while both replicas are up and read:
	// neither down nor degraded.
	bothUp := func() (haState, []haAlert, error) {
		alerts, err := haActiveAlerts(t, prom)
		if err != nil {
			return haState{}, nil, err
		}
		s, err := haCheck(alerts, stale)
		if err != nil {
			return haState{}, nil, err
		}
		if len(s.down) > 0 || len(s.degraded) > 0 {
			return haState{}, nil, fmt.Errorf("%s or %s with both replicas up and reading: %s", alertExporterDown, alertReplicaDegraded, haList(alerts))
		}
		return s, alerts, nil
	}
	var before haState
	eventually(t, "the stale database alerted once per alert name", func() error {
		s, alerts, err := bothUp()
		if err != nil {
			return err
		}
		if _, ok := s.stale[alertNoRecent]; !ok {
			return fmt.Errorf("no %s for %s; active: %s", alertNoRecent, stale, haList(alerts))
		}
		before = s
		return nil
	})
	holds(t, "one alert per name with both replicas up", func() error {
		s, alerts, err := bothUp()
		if err != nil {
			return err
		}
		if !slices.Equal(slices.Sorted(maps.Keys(s.stale)), slices.Sorted(maps.Keys(before.stale))) {
			return fmt.Errorf("alerts of the stale database changed: %s", haList(alerts))
		}
		return nil
	})
	names := slices.Sorted(maps.Keys(before.stale))
	t.Logf("both replicas up: %d alerts for the stale database, one per name %v; none for the %d healthy ones", len(names), names, len(ids)-1)

	// 4. A replica dies. Its target fails its scrapes, and Prometheus
	// marks its series stale at once: the alerts now rest on the survivor
	// alone.
	victim := 1
	killed := time.Now()
	replicas[victim].kill(t)
	check := func() error {
		alerts, err := haActiveAlerts(t, prom)
		if err != nil {
			return err
		}
		s, err := haCheck(alerts, stale)
		if err != nil {
			return err
		}
		for inst, a := range s.down {
			if inst != hosts[victim] {
				return fmt.Errorf("%s for %s, which is up", alertExporterDown, inst)
			}
			if sev := a.Labels["severity"]; sev != "warning" {
				return fmt.Errorf("%s for %s with severity %q, want warning: the other replica is up", alertExporterDown, inst, sev)
			}
		}
		if _, ok := s.down[hosts[victim]]; !ok {
			return fmt.Errorf("no %s for %s yet; active: %s", alertExporterDown, hosts[victim], haList(alerts))
		}
		for _, name := range names {
			a, ok := s.stale[name]
			if !ok {
				return fmt.Errorf("%s for the stale database ended with the replica: %s", name, haList(alerts))
			}
			if !a.ActiveAt.Equal(before.stale[name].ActiveAt) {
				return fmt.Errorf("%s for the stale database started again (active at %s, before %s)", name, a.ActiveAt, before.stale[name].ActiveAt)
			}
		}
		if len(s.stale) != len(names) || len(s.degraded) > 0 {
			return fmt.Errorf("alerts of the stale database changed, or %s: %s", alertReplicaDegraded, haList(alerts))
		}
		return nil
	}
	holds(t, "one alert per name with one replica killed", check)
	// Past a few more scrapes and evaluations of the survivor.
	for end := time.Now().Add(4 * ttl); time.Now().Before(end); time.Sleep(time.Second) {
		if err := check(); err != nil {
			t.Fatalf("one replica killed: %v", err)
		}
	}
	alerts, err := haActiveAlerts(t, prom)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replica %d (instance %s) killed %s ago: still one alert per name for the stale database %v, same start; %s (warning) for %s; active: %s",
		victim, hosts[victim], time.Since(killed).Round(100*time.Millisecond), names, alertExporterDown, hosts[victim], haList(alerts))

	// 5. The survivor alone costs one read per database per TTL at most:
	// the pair costs twice what one exporter does.
	pair := calls["list_backup"]
	fakeControl(t, api, "requests", nil)
	time.Sleep(time.Duration(windows) * ttl)
	calls = fakeRequests(t, api)
	single := calls["list_backup"]
	t.Logf("one replica left: API calls over %d TTLs %v; list-backup per database per TTL: %.2f; the pair cost %.2f times as much",
		windows, calls, float64(single)/float64(len(ids))/float64(windows), float64(pair)/float64(max(single, 1)))
	if limit := int64(len(ids) * (windows + 1)); single > limit || single == 0 {
		t.Errorf("one replica: list-backup calls in %d TTLs: %d, want between 1 and %d", windows, single, limit)
	}

	// 6. The replica comes back and cannot read what the survivor reads.
	haReplicaDegraded(t, haDegradedRun{
		prom: prom, api: api, bin: bin, email: email, key: key, ttl: ttl,
		addr: addrs[victim], host: hosts[victim], ids: ids, stale: stale, before: before,
	})
	t.Logf("HA scenario took %s", time.Since(start).Round(100*time.Millisecond))
}
