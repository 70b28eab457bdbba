package deploy

// The last part of TestE2EHA (e2e_ha_test.go): a replica that cannot read
// what the other replica reads, under the real Prometheus.

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"
)

const alertReplicaDegraded = "UpstashBackupExporterReplicaDegraded"

// haDegradedRun is what haReplicaDegraded needs of TestE2EHA: the fake and
// Prometheus, the killed replica's address and instance, the databases and
// the stale database's alerts as the pair raised them.
type haDegradedRun struct {
	prom, api, bin, email, key string
	ttl                        time.Duration
	addr, host                 string
	ids                        []string
	stale                      string
	before                     haState
}

// haReplicaDegraded restarts the killed replica on its address with a key
// file of its own and --upstash.timeout=1s, and checks:
//   - with a wrong key in that file (a Secret not updated on one pod), it
//     reads nothing, not even the list of databases: exactly one
//     UpstashBackupExporterReplicaDegraded, reason account_unreadable, for
//     the account and its instance;
//   - with the right key written there, both replicas read every database
//     and no replica alert is left;
//   - with one database answering after 3s (the survivor waits up to 10s),
//     the restarted replica alone fails to read it: exactly one
//     UpstashBackupExporterReplicaDegraded, reason collection_failing, for
//     that database and its instance. Besides it, only the account's may
//     be pending for that instance: under the cache TTL a refresh that only
//     retries the slow database reports upstash_up 0 (deploy/README.md);
//
// and throughout that the stale database's alerts are those of the pair,
// with the times they became active, and no other alert is raised: no
// UpstashBackupCollectionFailing, no UpstashAccountUnreadable.
func haReplicaDegraded(t *testing.T, r haDegradedRun) {
	start := time.Now()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeTestFile(t, keyFile, "wrong-"+r.key+"\n")
	config := filepath.Join(dir, "config.yml")
	writeTestFile(t, config, fmt.Sprintf("accounts:\n  - name: e2e\n    email: %q\n    api_key_file: %q\n    api_url: %q\n", r.email, keyFile, r.api))
	startShardExporter(t, "replica-restarted", r.bin, r.addr,
		"--config.file="+config, "--upstash.cache-ttl="+r.ttl.String(), "--upstash.timeout=1s")

	// check returns the check of the active alerts: the stale database's
	// as before, exactly one ReplicaDegraded alert with the labels of want
	// (none when want is nil), and besides it only a pending one of the
	// account for the instance when pendingAccount is set (counted in
	// accountSeen).
	accountSeen := 0
	check := func(want map[string]string, pendingAccount bool) func() error {
		return func() error {
			alerts, err := haActiveAlerts(t, r.prom)
			if err != nil {
				return err
			}
			s, err := haCheck(alerts, r.stale)
			if err != nil {
				return err
			}
			if len(s.down) > 0 {
				return fmt.Errorf("%s with both replicas up: %s", alertExporterDown, haList(alerts))
			}
			if len(s.stale) != len(r.before.stale) {
				return fmt.Errorf("alerts of the stale database changed: %s", haList(alerts))
			}
			for name, a := range s.stale {
				if b, ok := r.before.stale[name]; !ok || !a.ActiveAt.Equal(b.ActiveAt) {
					return fmt.Errorf("%s of the stale database is new or started again: %s", name, haList(alerts))
				}
			}
			found := 0
			for _, a := range s.degraded {
				if matches(a.Labels, want) {
					found++
					continue
				}
				if pendingAccount && a.State == "pending" && matches(a.Labels, map[string]string{
					"reason": "account_unreadable", "account": "e2e", "instance": r.host,
				}) {
					accountSeen++
					continue
				}
				return fmt.Errorf("unexpected %s %v (%s): %s", alertReplicaDegraded, a.Labels, a.State, haList(alerts))
			}
			if want != nil && found != 1 {
				return fmt.Errorf("%d %s alerts with %v, want 1: %s", found, alertReplicaDegraded, want, haList(alerts))
			}
			return nil
		}
	}

	// 1. A wrong key: every call of the restarted replica is refused.
	phase := time.Now()
	holds(t, "one replica alert for the account it cannot read", check(map[string]string{
		"reason": "account_unreadable", "account": "e2e", "instance": r.host,
	}, false))
	t.Logf("replica restarted with a wrong key: one %s for account e2e and instance %s after %s, the pair's alerts unchanged",
		alertReplicaDegraded, r.host, time.Since(phase).Round(100*time.Millisecond))

	// 2. The right key, read again from the file.
	writeTestFile(t, keyFile, r.key+"\n")
	job := `job="` + exporterJob + `"`
	eventually(t, "Prometheus reads every database on both replicas again", func() error {
		s, err := promQuery(t, r.prom, `count by (database_id) (upstash_backup_exporter_collect_success{`+job+`} == 1) == 2`)
		if err != nil {
			return err
		}
		if len(s) != len(r.ids) {
			return fmt.Errorf("%d of %d databases read by both replicas", len(s), len(r.ids))
		}
		return nil
	})
	holds(t, "no replica alert with both replicas reading", check(nil, false))

	// 3. One database is slower than the restarted replica's timeout.
	slow := r.ids[0]
	fakeControl(t, r.api, "fault", url.Values{"db": {slow}, "latency": {"3s"}})
	phase = time.Now()
	holds(t, "one replica alert for the database it cannot read", check(map[string]string{
		"reason": "collection_failing", "database_id": slow, "instance": r.host,
	}, true))
	t.Logf("database %s slower than the restarted replica's timeout: one %s for it and instance %s after %s, the pair's alerts unchanged (the account's seen pending in %d checks); replica scenario took %s",
		slow, alertReplicaDegraded, r.host, time.Since(phase).Round(100*time.Millisecond), accountSeen, time.Since(start).Round(100*time.Millisecond))
	fakeControl(t, r.api, "clear", url.Values{"db": {slow}})
}

// matches reports whether labels has every label of want, and no label
// but those and alertname, job and severity.
func matches(labels, want map[string]string) bool {
	if want == nil || len(labels) != len(want)+3 {
		return false
	}
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}
