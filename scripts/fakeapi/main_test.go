package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

func newTestFake(t *testing.T, databases, backups int) *httptest.Server {
	t.Helper()
	srv, _ := newTestFakeAndAPI(t, databases, backups)
	return srv
}

func newTestFakeAndAPI(t *testing.T, databases, backups int) (*httptest.Server, *fake) {
	t.Helper()
	f := newFake(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, backups)
	f.api.AddGeneratedDatabases(databases, backups)
	// As with --direct: ordinary list-backup calls are answered by the listener.
	srv := httptest.NewUnstartedServer(f)
	srv.Listener = newDirect(srv.Listener, f)
	srv.Start()
	t.Cleanup(func() { srv.Close(); f.api.Close() })
	return srv, f
}

func post(t *testing.T, srv *httptest.Server, path string, want int) {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %s %s, want %d", path, resp.Status, b, want)
	}
}

func get(t *testing.T, srv *httptest.Server, path string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestControl(t *testing.T) {
	srv := newTestFake(t, 2, 3)
	db := upstashtest.GeneratedDatabaseID(1)

	post(t, srv, "/-/fake/stale?db="+db+"&age=50h", http.StatusOK)
	_, _, b := get(t, srv, "/redis/list-backup/"+db)
	var backups []upstashtest.Backup
	if err := json.Unmarshal(b, &backups); err != nil || len(backups) != 3 {
		t.Fatalf("after stale: %d backups, %v", len(backups), err)
	}
	if age := time.Since(backups[0].Created()); age < 50*time.Hour-time.Minute || age > 50*time.Hour+time.Minute {
		t.Errorf("newest backup is %s old, want 50h", age)
	}

	post(t, srv, "/-/fake/fault?endpoint=list_databases&status=429&retry_after=30", http.StatusOK)
	if code, h, _ := get(t, srv, "/redis/databases"); code != http.StatusTooManyRequests || h.Get("Retry-After") != "30" {
		t.Errorf("list-databases: %d Retry-After %q, want 429 and 30", code, h.Get("Retry-After"))
	}
	post(t, srv, "/-/fake/fault?endpoint=list_databases&body=%5B%5D", http.StatusOK)
	if code, _, b := get(t, srv, "/redis/databases"); code != http.StatusOK || string(b) != "[]" {
		t.Errorf("list-databases: %d %s, want 200 []", code, b)
	}
	post(t, srv, "/-/fake/fault?db=*&status=503", http.StatusOK)
	if code, _, _ := get(t, srv, "/redis/list-backup/"+db); code != http.StatusServiceUnavailable {
		t.Errorf("list-backup: %d, want 503", code)
	}
	post(t, srv, "/-/fake/clear", http.StatusOK)
	if code, _, b := get(t, srv, "/redis/databases"); code != http.StatusOK || !strings.Contains(string(b), db) {
		t.Errorf("after clear, list-databases: %d %.100s", code, b)
	}
	if code, _, _ := get(t, srv, "/redis/list-backup/"+db); code != http.StatusOK {
		t.Errorf("after clear, list-backup: %d, want 200", code)
	}

	for _, bad := range []string{"/-/fake/stale", "/-/fake/stale?db=*", "/-/fake/fault?status=x", "/-/fake/fault?endpoint=nope", "/-/fake/stream?kind=nope", "/-/fake/latency?d=soon"} {
		post(t, srv, bad, http.StatusBadRequest)
	}
	post(t, srv, "/-/fake/nothing", http.StatusNotFound)

	_, _, b = get(t, srv, "/-/fake/requests")
	var counts map[string]int
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatal(err)
	}
	if counts["list_databases"] != 3 || counts["list_backup"] != 3 {
		t.Errorf("request counts %v, want 3 list_databases and 3 list_backup", counts)
	}
	post(t, srv, "/-/fake/requests", http.StatusOK)
	if _, _, b = get(t, srv, "/-/fake/requests"); !strings.Contains(string(b), `"list_backup":0`) {
		t.Errorf("after reset: %s", b)
	}
}

// A stream of backups is valid JSON, at least the size asked, of distinct
// completed backups of the database asked about.
func TestStream(t *testing.T) {
	srv := newTestFake(t, 1, 1)
	db := upstashtest.GeneratedDatabaseID(0)
	post(t, srv, "/-/fake/stream?db=*&mb=2", http.StatusOK)
	code, h, b := get(t, srv, "/redis/list-backup/"+db)
	if code != http.StatusOK || h.Get("Content-Length") != "" {
		t.Fatalf("stream: %d, Content-Length %q; want 200 and none", code, h.Get("Content-Length"))
	}
	if len(b) < 2<<20 {
		t.Errorf("stream of %d bytes, want at least 2 MiB", len(b))
	}
	var backups []upstashtest.Backup
	if err := json.Unmarshal(b, &backups); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, x := range backups {
		if x.DatabaseID != db || x.State != "completed" || ids[x.BackupID] {
			t.Fatalf("entry %+v: wrong database, state or a repeated id", x)
		}
		ids[x.BackupID] = true
	}

	post(t, srv, "/-/fake/stream?db="+db+"&mb=1&kind=garbage", http.StatusOK)
	_, _, b = get(t, srv, "/redis/list-backup/"+db)
	if json.Valid(b) || len(b) < 1<<20 {
		t.Errorf("garbage of %d bytes is valid JSON: %v", len(b), json.Valid(b))
	}

	_, _, b = get(t, srv, "/-/fake/requests")
	if !strings.Contains(string(b), `"list_backup":`+strconv.Itoa(2)) {
		t.Errorf("streams not counted: %s", b)
	}
}
