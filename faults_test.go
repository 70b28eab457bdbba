package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/units"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// The fault matrix: one database of three answers list-backup badly, in
// every way the issue and API-NOTES.md list, while the exporter is scraped
// through its real HTTP handler. Each case checks that /metrics answers 200
// within the scrape timeout, that the other databases' series are exactly
// those of a healthy scrape, what the target database reports, how the
// failure is logged and counted, and that the key is nowhere.

const (
	matrixEmail = "matrix@example.com"
	matrixKey   = "matrix-key-3f9a1c7e5b2d4860"
	healthyA    = "db-alpha"
	healthyB    = "db-bravo"
	target      = "db-target"
)

// matrixCast is the three databases and their healthy backups.
type matrixCast struct {
	now    time.Time
	t1, t2 int64 // creation times used by raw answers
}

func newMatrixCast() matrixCast {
	now := time.Now().UTC().Truncate(time.Hour)
	return matrixCast{now: now, t1: now.Add(-2 * time.Hour).Unix(), t2: now.Add(-26 * time.Hour).Unix()}
}

func (c matrixCast) install(fake *upstashtest.Server) {
	fake.AddDatabase(upstashtest.Database{ID: healthyA, Name: "orders", Plan: "pro", Region: "eu-west-1", PrimaryRegion: "eu-west-1", DailyBackupEnabled: true})
	fake.AddDatabase(upstashtest.Database{ID: healthyB, Name: "events", Plan: "payg"})
	fake.AddDatabase(upstashtest.Database{ID: target, Name: "sessions", Plan: "pro", DailyBackupEnabled: true})
	at := func(id string, ago time.Duration, state string, size int64, hourly bool) upstashtest.Backup {
		created := c.now.Add(-ago).Unix()
		b := upstashtest.Backup{DatabaseID: id, BackupID: upstashtest.BackupID(id, created), Name: "b", CreationTime: created, State: state, BackupSize: size, DailyBackup: "true"}
		if hourly {
			b.DailyBackup, b.HourlyBackup = "false", "true"
		}
		return b
	}
	fake.SetBackups(healthyA, []upstashtest.Backup{
		at(healthyA, 3*time.Hour, upstash.StateCompleted, 4096, false),
		at(healthyA, 27*time.Hour, upstash.StateFailed, 0, false),
		at(healthyA, 51*time.Hour, upstash.StateCompleted, 2048, false),
	})
	fake.SetBackups(healthyB, []upstashtest.Backup{
		at(healthyB, 10*time.Minute, upstash.StatePending, 0, true),
		at(healthyB, 70*time.Minute, upstash.StateCompleted, 700, true),
		at(healthyB, 130*time.Minute, upstash.StateCompleted, 600, true),
	})
	fake.SetBackups(target, []upstashtest.Backup{
		at(target, time.Hour, upstash.StateFailed, 0, false),
		at(target, 25*time.Hour, upstash.StateCompleted, 1000, false),
		at(target, 49*time.Hour, upstash.StateCompleted, 900, false),
		at(target, 73*time.Hour, upstash.StatePending, 0, false),
	})
}

// faultCase is one row of the matrix.
type faultCase struct {
	name string
	// apply makes the target answer badly.
	apply func(fake *upstashtest.Server, c matrixCast)
	// scrapeTimeout is the scrape's timeout; 10s when zero.
	scrapeTimeout time.Duration
	// apiTimeout is --upstash.timeout; 5s when zero.
	apiTimeout       time.Duration
	maxResponseBytes units.Base2Bytes

	// A failure: the class logged and the codes of the target's
	// list-backup calls.
	failClass string
	codes     map[string]float64
	// An accepted answer: lines the target's series must include, and
	// the skipped and altered counts logged (-1: no warning at all).
	// When want has upstash_redis_backups lines, they are all the target
	// has: a state it does not list must be absent.
	want             []string
	skipped, altered int
	// absent are series of the target that must not be exported.
	absent []string
}

func raw(body string) func(*upstashtest.Server, matrixCast) {
	return func(fake *upstashtest.Server, _ matrixCast) { fake.SetRawBackups(target, []byte(body)) }
}

func fault(f upstashtest.Fault) func(*upstashtest.Server, matrixCast) {
	return func(fake *upstashtest.Server, _ matrixCast) { fake.SetFault(target, f) }
}

// rawf formats a list-backup answer with the cast's times: %[1]d is t1
// (two hours ago), %[2]d is t2 (26 hours ago).
func rawf(format string) func(*upstashtest.Server, matrixCast) {
	return func(fake *upstashtest.Server, c matrixCast) {
		fake.SetRawBackups(target, fmt.Appendf(nil, format, c.t1, c.t2))
	}
}

func faultCases() []faultCase {
	// A hung call outlives the scrape: the scrape gives up at its
	// deadline (scrapeTimeout minus the 0.5s offset), the call at the
	// client's timeout, later. The deadline leaves the healthy databases,
	// answered at once, seconds to spare on a loaded machine.
	const hang, hangAPITimeout = 4 * time.Second, 6 * time.Second
	return []faultCase{
		// Answers accepted: what the API says is what is exported.
		{name: "200 empty array", apply: raw(`[]`), skipped: -1, want: []string{
			`upstash_redis_backups{database_id="db-target",state="completed"} 0`,
			`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
			`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
			`upstash_redis_backup_retained_size_bytes{database_id="db-target"} 0`,
			`upstash_redis_backup_expected_interval_seconds{database_id="db-target"} 86400`,
		}},
		{name: "200 null", apply: raw(`null`), skipped: -1, want: []string{
			`upstash_redis_backups{database_id="db-target",state="completed"} 0`,
			`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
			`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
		}},
		{name: "string creation_time", skipped: -1,
			apply: rawf(`[{"backup_id":"s1","creation_time":"%d","state":"completed","backup_size":100},{"backup_id":"s2","creation_time":%d,"state":"completed","backup_size":50}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 2`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_last_completed_size_bytes{database_id="db-target"} 100`,
			}},
		{name: "unreadable creation_time", skipped: 1,
			apply: rawf(`[{"backup_id":"s1","creation_time":"yesterday","state":"completed","backup_size":100},{"backup_id":"s2","creation_time":%[2]d,"state":"completed","backup_size":50}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_last_completed_size_bytes{database_id="db-target"} 50`,
			}},
		{name: "float size", skipped: -1,
			apply: rawf(`[{"backup_id":"f1","creation_time":%d,"state":"completed","backup_size":1536.75},{"backup_id":"f2","creation_time":%d,"state":"completed","backup_size":1.5e3}]`),
			want: []string{
				`upstash_redis_backup_last_completed_size_bytes{database_id="db-target"} 1536`,
				`upstash_redis_backup_retained_size_bytes{database_id="db-target"} 3036`,
			}},
		{name: "boolean flags", skipped: -1,
			apply: rawf(`[{"backup_id":"b1","creation_time":%d,"state":"completed","backup_size":1,"daily_backup":false,"hourly_backup":true},{"backup_id":"b2","creation_time":%d,"state":"completed","backup_size":1,"daily_backup":true,"hourly_backup":false}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 2`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_expected_interval_seconds{database_id="db-target"} 3600`,
			}},
		{name: "missing state", skipped: -1,
			apply: rawf(`[{"backup_id":"m1","creation_time":%d,"backup_size":1},{"backup_id":"m2","creation_time":%d,"state":"completed","backup_size":2}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backups{database_id="db-target",state="unknown"} 1`,
				`upstash_redis_backup_latest_state{database_id="db-target",state="unknown"} 1`,
				`upstash_redis_backup_latest_state{database_id="db-target",state="completed"} 0`,
			}},
		{name: "negative size", skipped: 0, altered: 1,
			apply: rawf(`[{"backup_id":"n1","creation_time":%d,"state":"completed","backup_size":-5},{"backup_id":"n2","creation_time":%d,"state":"completed","backup_size":7}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 2`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_retained_size_bytes{database_id="db-target"} 7`,
				`upstash_backup_exporter_backup_entries_unreadable{database_id="db-target",reason="backup_size"} 1`,
			},
			// An unreadable size is unknown, never 0 bytes.
			absent: []string{`upstash_redis_backup_last_completed_size_bytes{database_id="db-target"}`}},
		{name: "creation_time in milliseconds", skipped: -1,
			apply: rawf(`[{"backup_id":"ms1","creation_time":%d123,"state":"completed","backup_size":1},{"backup_id":"ms2","creation_time":%d000,"state":"failed"}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_last_completed_timestamp_seconds{database_id="db-target"} ` + promValue(newMatrixCast().t1),
				`upstash_redis_backup_last_failed_timestamp_seconds{database_id="db-target"} ` + promValue(newMatrixCast().t2),
			}},
		{name: "creation_time far in the future", skipped: 1,
			apply: func(fake *upstashtest.Server, c matrixCast) {
				future := c.now.AddDate(0, 1, 0).Unix()
				fake.SetRawBackups(target, fmt.Appendf(nil, `[{"backup_id":"x1","creation_time":%d,"state":"completed","backup_size":9},{"backup_id":"x2","creation_time":%d,"state":"completed","backup_size":3}]`, future, c.t2))
			},
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backup_newest_timestamp_seconds{database_id="db-target"} ` + promValue(newMatrixCast().t2),
			}},
		{name: "duplicate backup ids", skipped: 1,
			apply: rawf(`[{"backup_id":"d1","creation_time":%d,"state":"completed","backup_size":5},{"backup_id":"d1","creation_time":%d,"state":"failed","backup_size":5}]`),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
			}},
		{name: "invalid UTF-8 inside strings", skipped: -1,
			apply: rawf("[{\"backup_id\":\"u1\xff\xfe\",\"name\":\"\xc3\x28\",\"creation_time\":%d,\"state\":\"completed\",\"backup_size\":5},{\"backup_id\":\"u2\",\"creation_time\":%d,\"state\":\"completed\\udc00\",\"backup_size\":5}]"),
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
				`upstash_redis_backups{database_id="db-target",state="unknown"} 1`,
			}},
		// Under -race decoding 100,000 backups takes tens of seconds; the
		// timeouts are bounds, not the expected time.
		{name: "100,000 backups", skipped: -1, scrapeTimeout: 5 * time.Minute, apiTimeout: 4 * time.Minute,
			apply: func(fake *upstashtest.Server, c matrixCast) {
				fake.SetBackups(target, upstashtest.GenerateBackups(target, 100_000, c.now.Add(-time.Hour), time.Hour))
			},
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 100000`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
			}},

		{name: "entries echoing the key", skipped: 3,
			apply: func(fake *upstashtest.Server, c matrixCast) {
				fake.SetRawBackups(target, fmt.Appendf(nil, `[{"backup_id":%[1]q,"creation_time":%[3]d,"state":"completed"},{"backup_id":%[1]q,"creation_time":%[3]d,"state":"completed"},{"backup_id":"z","creation_time":%[1]q},{"backup_id":"y","creation_time":%[2]q}]`, matrixKey, matrixBasic(), c.t1))
			},
			want: []string{
				`upstash_redis_backups{database_id="db-target",state="completed"} 1`,
				`upstash_redis_backups{database_id="db-target",state="failed"} 0`,
				`upstash_redis_backups{database_id="db-target",state="pending"} 0`,
			}},

		// Answers rejected whole, and calls that fail.
		{name: "200 error object echoing the key", apply: raw(`{"error":"key ` + matrixKey + ` (` + matrixBasic() + `) is not allowed"}`), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "200 HTML echoing the key", apply: fault(upstashtest.Fault{Status: 200, Body: []byte("<html>Authorization: Basic " + matrixBasic() + " key=" + matrixKey + "</html>"), ContentType: "text/html"}), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "401 echoing the key", apply: fault(upstashtest.Fault{Status: 401, Body: []byte(`{"error":"invalid key ` + matrixKey + ` in Basic ` + matrixBasic() + `"}`)}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"401": 1}},
		{name: "200 object instead of array", apply: raw(`{"error":"something went wrong"}`), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "200 truncated JSON", apply: rawf(`[{"backup_id":"t1","creation_time":%d,"state":"comp`), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "200 HTML", apply: fault(upstashtest.Fault{Status: 200, Body: []byte("<html><body><h1>Bad gateway</h1></body></html>"), ContentType: "text/html"}), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "200 invalid UTF-8 outside strings", apply: raw("\xff\xfe[\x00]"), failClass: upstash.ClassDecode, codes: map[string]float64{"200": 1}},
		{name: "200 larger than the size limit", maxResponseBytes: 16 << 10,
			apply: func(fake *upstashtest.Server, c matrixCast) {
				fake.SetBackups(target, upstashtest.GenerateBackups(target, 200, c.now, time.Hour))
			},
			failClass: upstash.ClassTooLarge, codes: map[string]float64{"200": 1}},
		{name: "401", apply: fault(upstashtest.Fault{Status: 401}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"401": 1}},
		{name: "403", apply: fault(upstashtest.Fault{Status: 403}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"403": 1}},
		{name: "404 database not found", apply: fault(upstashtest.Fault{Status: 404, Body: []byte(`"database not found"`)}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"404": 1}},
		{name: "429 with Retry-After", apply: fault(upstashtest.Fault{Status: 429, RetryAfter: "1"}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"429": 2}},
		{name: "429 without Retry-After", apply: fault(upstashtest.Fault{Status: 429}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"429": 2}},
		{name: "500", apply: fault(upstashtest.Fault{Status: 500}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"500": 2}},
		{name: "503 maintenance", apply: fault(upstashtest.Fault{Status: 503, Body: []byte(`{"error":"Upstash is under maintenance"}`)}), failClass: upstash.ClassHTTPStatus, codes: map[string]float64{"503": 2}},
		{name: "connection reset", apply: fault(upstashtest.Fault{ResetConnection: true}), failClass: upstash.ClassConnection, codes: map[string]float64{upstash.CodeError: 2}},
		{name: "hang past the deadline", apply: fault(upstashtest.Fault{Hang: true}), scrapeTimeout: hang, apiTimeout: hangAPITimeout,
			failClass: upstash.ClassTimeout, codes: map[string]float64{upstash.CodeTimeout: 1}},
		{name: "slow trickle body", apply: fault(upstashtest.Fault{TrickleInterval: 200 * time.Millisecond}), scrapeTimeout: hang, apiTimeout: hangAPITimeout,
			failClass: upstash.ClassTimeout, codes: map[string]float64{upstash.CodeTimeout: 1}},
	}
}

func matrixBasic() string {
	return base64.StdEncoding.EncodeToString([]byte(matrixEmail + ":" + matrixKey))
}

func promValue(unix int64) string {
	return strconv.FormatFloat(float64(unix), 'g', -1, 64)
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, tc)
		})
	}
}

// volatile are series that change on every scrape whatever the API says.
var volatile = []string{"upstash_backup_exporter_last_collect_success_timestamp_seconds"}

func runFaultCase(t *testing.T, tc faultCase) {
	fake := upstashtest.NewServer(upstashtest.WithCredentials(matrixEmail, matrixKey))
	t.Cleanup(fake.Close)
	cast := newMatrixCast()
	cast.install(fake)
	scrapeTimeout := tc.scrapeTimeout
	if scrapeTimeout == 0 {
		scrapeTimeout = 10 * time.Second
	}
	te := startInProcess(t, accountConfig(t, "main", matrixEmail, matrixKey, fake), func(o *options) {
		o.apiTimeout = 5 * time.Second
		if tc.apiTimeout != 0 {
			o.apiTimeout = tc.apiTimeout
		}
		if tc.maxResponseBytes != 0 {
			o.maxResponseBytes = tc.maxResponseBytes
		}
	})

	// A healthy scrape first: the values the target must keep, and the
	// other databases' series to compare with.
	healthyBody := te.scrapeWithin(t, 10*time.Second)
	healthy := series(healthyBody)
	if healthy[`upstash_backup_exporter_collect_success{database_id="db-target"}`] != "1" {
		t.Fatalf("the healthy scrape did not read the target:\n%s", te.logs)
	}
	countsBefore := te.apiRequests(t)
	mark := te.logs.Len()

	tc.apply(fake, cast)
	gotBody := te.scrapeWithin(t, scrapeTimeout)
	got := series(gotBody)

	for _, id := range []string{healthyA, healthyB} {
		if d := diffSeries(without(databaseSeries(healthy, id), volatile...), without(databaseSeries(got, id), volatile...)); d != "" {
			t.Errorf("%s's series changed because of the target's answer:\n%s", id, d)
		}
	}

	failed := tc.failClass != ""
	var logged string
	if failed {
		// A read still in flight when its scrape ends (a hang) is checked
		// once it has failed, below.
		if tc.failClass != upstash.ClassTimeout {
			checkKeptLastGoodValues(t, healthy, got)
		}
		// The call may outlive the scrape (a hang): wait for its end.
		logged = te.logs.waitFor(t, mark, "the target's failure", func(s string) bool {
			return strings.Contains(s, `"database_id":"db-target"`)
		})
		checkFailureLogged(t, parseLog(t, logged), tc.failClass)
	} else {
		if got[`upstash_backup_exporter_collect_success{database_id="db-target"}`] != "1" {
			t.Errorf("the target's answer was rejected; it should have been accepted\n%s", te.logs.since(mark))
		}
		for _, line := range tc.want {
			k, v, _ := strings.Cut(line, "} ")
			if got[k+"}"] != v {
				t.Errorf("want %s, got %q", line, got[k+"}"])
			}
		}
		for _, k := range tc.absent {
			if v, ok := got[k]; ok {
				t.Errorf("want no %s, got %q", k, v)
			}
		}
		checkOnlyWantedStates(t, tc.want, got)
		logged = te.logs.since(mark)
		checkProblemsLogged(t, parseLog(t, logged), tc.skipped, tc.altered)
	}

	// The target's calls, and one call for each healthy database and for
	// the listing: the counters carry the codes the API answered.
	codes := map[string]float64{"main list_databases 200": 1}
	wantBackup200 := 2.0
	if !failed {
		wantBackup200++
	}
	codes["main list_backup 200"] = wantBackup200
	for code, n := range tc.codes {
		codes["main list_backup "+code] += n
	}
	if d := delta(countsBefore, te.apiRequests(t)); fmt.Sprint(d) != fmt.Sprint(codes) {
		t.Errorf("api_requests_total grew by %v, want %v", d, codes)
	}

	if tc.failClass == upstash.ClassTimeout {
		// The read that timed out has finished: the next scrape reports it.
		// Its own read of the target hangs too, so it gets the time to end.
		after := te.scrapeWithin(t, 10*time.Second)
		checkKeptLastGoodValues(t, healthy, series(after))
		gotBody += after
	}

	assertNoSecret(t, te.logs.String()+healthyBody+gotBody, matrixEmail, matrixKey)
}

// checkKeptLastGoodValues: a failing database reports collect_success 0,
// its last-success time stops, and its backup series keep their values.
func checkKeptLastGoodValues(t *testing.T, healthy, got map[string]string) {
	t.Helper()
	const success = `upstash_backup_exporter_collect_success{database_id="db-target"}`
	const last = `upstash_backup_exporter_last_collect_success_timestamp_seconds{database_id="db-target"}`
	if got[success] != "0" {
		t.Errorf("collect_success = %q, want 0", got[success])
	}
	if got[last] != healthy[last] {
		t.Errorf("last-success timestamp moved from %s to %s", healthy[last], got[last])
	}
	want := without(databaseSeries(healthy, target), volatile...)
	delete(want, success)
	have := without(databaseSeries(got, target), volatile...)
	delete(have, success)
	if d := diffSeries(want, have); d != "" {
		t.Errorf("the failing database lost its last good values:\n%s", d)
	}
}

// checkOnlyWantedStates: when want names upstash_redis_backups series of
// the target, the target has no other: sum without (state) of what want
// lists is the number of backups exported.
func checkOnlyWantedStates(t *testing.T, want []string, got map[string]string) {
	t.Helper()
	const prefix = `upstash_redis_backups{database_id="db-target",`
	wanted := map[string]bool{}
	for _, line := range want {
		if k, _, _ := strings.Cut(line, "} "); strings.HasPrefix(k, prefix) {
			wanted[k+"}"] = true
		}
	}
	if len(wanted) == 0 {
		return
	}
	for k, v := range got {
		if strings.HasPrefix(k, prefix) && !wanted[k] {
			t.Errorf("want no %s, got %q", k, v)
		}
	}
}

// checkFailureLogged: exactly one error line for the target in the
// collection, with its class.
func checkFailureLogged(t *testing.T, records []logRecord, class string) {
	t.Helper()
	var lines []logRecord
	for _, r := range records {
		if r.str("database_id") == target {
			lines = append(lines, r)
		}
		if id := r.str("database_id"); id == healthyA || id == healthyB {
			t.Errorf("a healthy database was logged: %v", r)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d log lines for the target, want exactly one: %v", len(lines), lines)
	}
	r := lines[0]
	if r.str("level") != "ERROR" || r.str("msg") != "Listing backups failed" || r.str("class") != class || r.str("err") == "" || r.str("account") != "main" {
		t.Errorf("log line %v, want level ERROR, class %q, an err and the account", r, class)
	}
}

// checkProblemsLogged: entries skipped or corrected are counted in one
// warning per collection; a clean answer logs none.
func checkProblemsLogged(t *testing.T, records []logRecord, skipped, altered int) {
	t.Helper()
	var warnings []logRecord
	for _, r := range records {
		if r.str("level") == "ERROR" {
			t.Errorf("an accepted answer logged an error: %v", r)
		}
		if r.str("msg") == "Backup list had entries that could not be read as given" {
			warnings = append(warnings, r)
		}
	}
	if skipped < 0 {
		if len(warnings) != 0 {
			t.Errorf("a clean answer logged %v", warnings)
		}
		return
	}
	if len(warnings) != 1 {
		t.Fatalf("%d decode warnings, want one: %v", len(warnings), warnings)
	}
	r := warnings[0]
	if r["skipped"] != float64(skipped) || r["altered"] != float64(altered) || r.str("database_id") != target || r.str("first_reason")+r.str("first_detail") == "" {
		t.Errorf("warning %v, want skipped=%d altered=%d for the target with a reason", r, skipped, altered)
	}
}

// assertNoSecret fails if text holds the key, the Basic credentials made of
// it, or the key's own base64.
func assertNoSecret(t *testing.T, text, email, key string) {
	t.Helper()
	for what, s := range secretForms(email, key) {
		if strings.Contains(text, s) {
			t.Errorf("the %s appears in output:\n%s", what, text)
		}
	}
}

// TestRetryAfterHoldIsCapped: a Retry-After of a day, in seconds on
// list-databases and as an HTTP date on list-backup, holds each endpoint
// back for at most --upstash.max-retry-after, and the hold shows in
// upstash_backup_exporter_api_held_until_timestamp_seconds.
func TestRetryAfterHoldIsCapped(t *testing.T) {
	t.Parallel()
	const maxHold = 90 * time.Second
	seconds := upstashtest.NewServer()
	t.Cleanup(seconds.Close)
	seconds.AddDatabase(upstashtest.Database{ID: "db-s", Name: "s"})
	seconds.SetListDatabasesFault(upstashtest.Fault{Status: 429, RetryAfter: "86400"})
	date := upstashtest.NewServer()
	t.Cleanup(date.Close)
	date.AddDatabase(upstashtest.Database{ID: "db-d", Name: "d"})
	date.SetFault("db-d", upstashtest.Fault{Status: 429, RetryAfter: time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)})

	config := accountConfig(t, "seconds", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, seconds) +
		strings.TrimPrefix(accountConfig(t, "date", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, date), "accounts:\n") +
		"    databases:\n      - id: db-d\n"
	te := startInProcess(t, config, func(o *options) { o.maxRetryAfter = maxHold })
	start := time.Now()
	te.scrapeWithin(t, 3*time.Second)

	// The 429s are answered at once; the client records the hold after
	// them, which this waits for, bounded.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	want := []string{"seconds " + upstash.EndpointListDatabases, "date " + upstash.EndpointListBackup}
	for {
		held := te.heldUntil(t)
		if len(held) == len(want) {
			for _, k := range want {
				until, ok := held[k]
				if !ok || until.Before(start) || until.After(time.Now().Add(maxHold)) {
					t.Errorf("hold of %s until %s (found %t), want within %s of %s", k, until, ok, maxHold, start)
				}
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("holds shown: %v, want %v", held, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// heldUntil reads the holds in force from the static registry, keyed by
// "account endpoint".
func (te *testExporter) heldUntil(t *testing.T) map[string]time.Time {
	t.Helper()
	mfs, err := te.static.Gather()
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]time.Time{}
	for _, mf := range mfs {
		if mf.GetName() != "upstash_backup_exporter_api_held_until_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetGauge().GetValue(); v > 0 {
				held[labelValue(m, "account")+" "+labelValue(m, "endpoint")] = time.Unix(0, int64(v*1e9))
			}
		}
	}
	return held
}
