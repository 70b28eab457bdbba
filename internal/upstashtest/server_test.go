package upstashtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// TestMain fails the package when a fault or latency leaves a goroutine
// behind after its server closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const ordersID = "11111111-2222-4333-8444-555555555555"

// answer is what a call got back.
type answer struct {
	status int
	header http.Header
	body   string
}

// call makes one request with the given credentials on a connection of its
// own, so a fault that breaks the connection does not touch other calls.
func call(ctx context.Context, t *testing.T, s *upstashtest.Server, method, path, email, key string) (answer, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if email != "" || key != "" {
		req.SetBasicAuth(email, key)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(body)}, err
}

// get is call for an authorised GET that must get an answer.
func get(t *testing.T, s *upstashtest.Server, path string) answer {
	t.Helper()
	a, err := call(t.Context(), t, s, http.MethodGet, path, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

func newOrdersServer(t *testing.T, opts ...upstashtest.Option) *upstashtest.Server {
	t.Helper()
	s := upstashtest.NewServer(opts...)
	t.Cleanup(s.Close)
	s.AddDatabase(upstashtest.Database{ID: ordersID, Name: "orders", Region: "us-east-1", PrimaryRegion: "us-east-1", Plan: "pro", CreationTime: 1700000000, DailyBackupEnabled: true})
	s.SetBackups(ordersID, upstashtest.GenerateBackups(ordersID, 3, time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC), 24*time.Hour))
	return s
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	for _, tc := range []struct {
		name, path, email, key string
		want                   int
	}{
		{"no credentials", "/redis/databases", "", "", http.StatusUnauthorized},
		{"wrong e-mail", "/redis/databases", "other@example.com", upstashtest.DefaultAPIKey, http.StatusUnauthorized},
		{"wrong key", "/redis/list-backup/" + ordersID, upstashtest.DefaultEmail, "wrong", http.StatusUnauthorized},
		{"wrong key on an unknown path", "/redis/nothing", upstashtest.DefaultEmail, "wrong", http.StatusUnauthorized},
		{"right credentials", "/redis/list-backup/" + ordersID, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := call(t.Context(), t, s, http.MethodGet, tc.path, tc.email, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.want {
				t.Fatalf("status %d, want %d (body %q)", a.status, tc.want, a.body)
			}
			if tc.want == http.StatusUnauthorized && a.body != `{"error":"Unauthorized"}` {
				t.Errorf("body %q", a.body)
			}
		})
	}
}

func TestCustomCredentials(t *testing.T) {
	t.Parallel()
	s := upstashtest.NewServer(upstashtest.WithCredentials("team@example.com", "team-key"))
	t.Cleanup(s.Close)
	for _, tc := range []struct {
		email, key string
		want       int
	}{
		{"team@example.com", "team-key", http.StatusOK},
		{upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, http.StatusUnauthorized},
	} {
		a, err := call(t.Context(), t, s, http.MethodGet, "/redis/databases", tc.email, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if a.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.email, a.status, tc.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	const emptyID = "99999999-2222-4333-8444-555555555555"
	s.AddDatabase(upstashtest.Database{ID: emptyID, Name: "empty"})
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantBody           string // exact when set
		wantContentType    string
	}{
		{"list backups", "GET", "/redis/list-backup/" + ordersID, 200, "", "application/json"},
		{"database without backups", "GET", "/redis/list-backup/" + emptyID, 200, "[]", "application/json"},
		{"backups of unknown database", "GET", "/redis/list-backup/nope", 404, `"database not found"`, "application/json"},
		{"unknown database", "GET", "/redis/database/nope", 404, `"database not found"`, "application/json"},
		{"list databases", "GET", "/redis/databases", 200, "", "application/json"},
		{"one database", "GET", "/redis/database/" + ordersID, 200, "", "application/json"},
		{"no id", "GET", "/redis/list-backup/", 404, "404 page not found\n", "text/plain; charset=utf-8"},
		{"nested id", "GET", "/redis/list-backup/a/b", 404, "", ""},
		{"versioned path", "GET", "/v2/redis/databases", 404, "", ""},
		{"unknown path", "GET", "/redis/create-backup", 404, "", ""},
		{"POST", "POST", "/redis/list-backup/" + ordersID, 405, "", "application/json"},
		{"DELETE", "DELETE", "/redis/database/" + ordersID, 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := call(t.Context(), t, s, tc.method, tc.path, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", a.status, tc.wantStatus, a.body)
			}
			if tc.wantBody != "" && a.body != tc.wantBody {
				t.Errorf("body %q, want %q", a.body, tc.wantBody)
			}
			if got := a.header.Get("Content-Type"); tc.wantContentType != "" && got != tc.wantContentType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantContentType)
			}
			if tc.wantStatus == 405 && a.header.Get("Allow") != "GET" {
				t.Errorf("Allow %q", a.header.Get("Allow"))
			}
		})
	}
}

// TestBackupWireFormat decodes untyped, so it sees the JSON types the
// OpenAPI document specifies rather than what a Go struct would coerce.
func TestBackupWireFormat(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	a := get(t, s, "/redis/list-backup/"+ordersID)
	var backups []map[string]any
	if err := json.Unmarshal([]byte(a.body), &backups); err != nil {
		t.Fatal(err)
	}
	if len(backups) != 3 {
		t.Fatalf("%d backups, want 3", len(backups))
	}
	b := backups[0]
	for field, want := range map[string]any{
		"database_id":         ordersID,
		"customer_id":         upstashtest.DefaultEmail,
		"creation_time":       float64(time.Date(2025, 3, 10, 3, 0, 0, 0, time.UTC).Unix()),
		"state":               upstash.StateCompleted,
		"daily_backup":        "true",
		"hourly_backup":       "false",
		"internal_backup_tag": "",
	} {
		if b[field] != want {
			t.Errorf("%s = %#v, want %#v", field, b[field], want)
		}
	}
	for _, field := range []string{"name", "backup_id"} {
		if s, _ := b[field].(string); s == "" {
			t.Errorf("%s = %#v, want a non-empty string", field, b[field])
		}
	}
	if _, ok := b["backup_size"].(float64); !ok {
		t.Errorf("backup_size = %#v, want a number", b["backup_size"])
	}
	if len(b) != 10 {
		t.Errorf("%d fields, want the 10 of the OpenAPI Backup: %v", len(b), b)
	}
}

func TestBackupDefaults(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.SetBackups(ordersID, []upstashtest.Backup{{DatabaseID: ordersID, CustomerID: "kept@example.com", State: "archived"}})
	var got []upstashtest.Backup
	if err := json.Unmarshal([]byte(get(t, s, "/redis/list-backup/"+ordersID).body), &got); err != nil {
		t.Fatal(err)
	}
	want := upstashtest.Backup{DatabaseID: ordersID, CustomerID: "kept@example.com", State: "archived", DailyBackup: "false", HourlyBackup: "false"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want [%+v]", got, want)
	}
}

func TestSetRawBackups(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	// daily_backup as a boolean and backup_name: drift from older answers.
	raw := `[{"database_id":"` + ordersID + `","backup_name":"old","creation_time":1,"state":"completed","daily_backup":true}]`
	s.SetRawBackups(ordersID, []byte(raw))
	a := get(t, s, "/redis/list-backup/"+ordersID)
	if a.status != http.StatusOK || a.body != raw {
		t.Errorf("got %d %q, want 200 %q", a.status, a.body, raw)
	}
}

func TestDatabases(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.AddDatabase(upstashtest.Database{ID: "second", Name: "cache"})

	type wireDatabase struct {
		ID                 string `json:"database_id"`
		Name               string `json:"database_name"`
		Region             string `json:"region"`
		PrimaryRegion      string `json:"primary_region"`
		Type               string `json:"type"`
		State              string `json:"state"`
		CreationTime       int64  `json:"creation_time"`
		DailyBackupEnabled bool   `json:"daily_backup_enabled"`
		Password           string `json:"password"`
		RESTToken          string `json:"rest_token"`
		ReadOnlyRESTToken  string `json:"read_only_rest_token"`
	}
	var list []wireDatabase
	if err := json.Unmarshal([]byte(get(t, s, "/redis/databases").body), &list); err != nil {
		t.Fatal(err)
	}
	wantOrders := wireDatabase{ordersID, "orders", "us-east-1", "us-east-1", "pro", "active", 1700000000, true,
		upstashtest.FakePassword, upstashtest.FakeRESTToken, upstashtest.FakeReadOnlyRESTToken}
	wantDefaults := wireDatabase{"second", "cache", "global", "", "payg", "active", 0, false,
		upstashtest.FakePassword, upstashtest.FakeRESTToken, upstashtest.FakeReadOnlyRESTToken}
	if len(list) != 2 || list[0] != wantOrders || list[1] != wantDefaults {
		t.Errorf("list-databases:\n got %+v\nwant [%+v %+v]", list, wantOrders, wantDefaults)
	}

	for _, tc := range []struct {
		query       string
		wantSecrets bool
	}{
		{"", true},
		{"?credentials=hide", false},
		{"?credentials=show", true},
	} {
		a := get(t, s, "/redis/database/"+ordersID+tc.query)
		for _, secret := range []string{upstashtest.FakePassword, upstashtest.FakeRESTToken, upstashtest.FakeReadOnlyRESTToken, `"password"`, `"rest_token"`} {
			if strings.Contains(a.body, secret) != tc.wantSecrets {
				t.Errorf("query %q: body has %s = %v, want %v", tc.query, secret, !tc.wantSecrets, tc.wantSecrets)
			}
		}
		var db wireDatabase
		if err := json.Unmarshal([]byte(a.body), &db); err != nil || db.ID != ordersID || !db.DailyBackupEnabled {
			t.Errorf("query %q: got %+v, %v", tc.query, db, err)
		}
	}
}

func TestRemoveDatabase(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.RemoveDatabase(ordersID)
	if got := get(t, s, "/redis/list-backup/"+ordersID).status; got != http.StatusNotFound {
		t.Errorf("list-backup status %d, want 404", got)
	}
	if got := get(t, s, "/redis/databases").body; got != "[]" {
		t.Errorf("list-databases %q, want []", got)
	}
	if got := s.Databases(); len(got) != 0 {
		t.Errorf("Databases() = %v", got)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	s := newOrdersServer(t, upstashtest.WithClock(func() time.Time { return now }))
	get(t, s, "/redis/databases")
	get(t, s, "/redis/list-backup/"+ordersID)
	get(t, s, "/redis/database/nope?credentials=hide")
	get(t, s, "/elsewhere")
	if _, err := call(t.Context(), t, s, http.MethodGet, "/redis/databases", "", ""); err != nil {
		t.Fatal(err)
	}

	want := []upstashtest.Request{
		{Method: "GET", Path: "/redis/databases", Endpoint: upstash.EndpointListDatabases, Status: 200, Time: now},
		{Method: "GET", Path: "/redis/list-backup/" + ordersID, Endpoint: upstash.EndpointListBackup, DatabaseID: ordersID, Status: 200, Time: now},
		{Method: "GET", Path: "/redis/database/nope", RawQuery: "credentials=hide", Endpoint: upstashtest.EndpointGetDatabase, DatabaseID: "nope", Status: 404, Time: now},
		{Method: "GET", Path: "/elsewhere", Status: 404, Time: now},
		{Method: "GET", Path: "/redis/databases", Endpoint: upstash.EndpointListDatabases, Status: 401, Time: now},
	}
	got := s.Requests()
	if len(got) != len(want) {
		t.Fatalf("log %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for endpoint, n := range map[string]int{upstash.EndpointListDatabases: 2, upstash.EndpointListBackup: 1, upstashtest.EndpointGetDatabase: 1, "": 1} {
		if got := s.RequestCount(endpoint); got != n {
			t.Errorf("RequestCount(%q) = %d, want %d", endpoint, got, n)
		}
	}

	s.ResetRequests()
	if len(s.Requests()) != 0 || s.RequestCount(upstash.EndpointListDatabases) != 0 {
		t.Errorf("after ResetRequests: %v, %d", s.Requests(), s.RequestCount(upstash.EndpointListDatabases))
	}
}

func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit, calls, wantLogged int
	}{
		{0, 3, 0},
		{2, 1, 1},
		{2, 5, 2},
		{3, 10, 3},
	} {
		s := upstashtest.New(upstashtest.WithRequestLogLimit(tc.limit))
		for i := range tc.calls {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "/redis/database/"+string(rune('a'+i)), nil)
			r.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
			s.Handler().ServeHTTP(discard{}, r)
		}
		s.Close()
		log := s.Requests()
		if len(log) != tc.wantLogged {
			t.Errorf("limit %d, %d calls: %d logged, want %d", tc.limit, tc.calls, len(log), tc.wantLogged)
			continue
		}
		if n := len(log); n > 0 && log[n-1].DatabaseID != string(rune('a'+tc.calls-1)) {
			t.Errorf("limit %d: newest logged is %q, want the last call", tc.limit, log[n-1].DatabaseID)
		}
		if got := s.RequestCount(upstashtest.EndpointGetDatabase); got != tc.calls {
			t.Errorf("limit %d: RequestCount %d, want %d", tc.limit, got, tc.calls)
		}
	}
}

// discard is a ResponseWriter for calls whose answer does not matter.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// TestConcurrentUse is meant for -race: calls and cast changes at once.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				path := []string{"/redis/databases", "/redis/list-backup/" + ordersID, "/redis/database/" + ordersID}[(w+i)%3]
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
				req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			s.AddDatabase(upstashtest.Database{ID: "db-" + string(rune('a'+i%26)), Name: "churn"})
			s.SetBackups(ordersID, upstashtest.GenerateBackups(ordersID, i%5, time.Unix(1741575600, 0), time.Hour))
			s.SetFault("db-x", upstashtest.Fault{Status: 500, Times: 1})
			s.ClearFault("db-x")
			s.SetLatency(0)
			_ = s.Requests()
			_ = s.Databases()
			if i%10 == 0 {
				s.ResetRequests()
			}
		}
	})
	wg.Wait()
}
