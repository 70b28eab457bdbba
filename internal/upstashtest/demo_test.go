package upstashtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// demoStart is when the demos of these tests start: a minute before the
// orders daily backup and half an hour after the sessions one.
var demoStart = time.Date(2025, time.March, 10, 2, 59, 0, 0, time.UTC)

// getWith calls url through rt, with the demo credentials.
func getWith(t *testing.T, rt http.RoundTripper, url string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.SetBasicAuth(upstashtest.DemoEmail, upstashtest.DemoAPIKey)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body
}

// handlerTransport calls a Handler in process, as a RoundTripper.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	ht.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// TestDemoCastIsTheExportersDemo checks that the fake with the demo cast
// answers as the exporter's --demo does (internal/demo, whose tests check
// the cast itself), at its start and as its clock moves.
func TestDemoCastIsTheExportersDemo(t *testing.T) {
	t.Parallel()
	now := demoStart
	clock := func() time.Time { return now }
	s := upstashtest.New(upstashtest.WithClock(clock), upstashtest.WithDemoCast())
	defer s.Close()
	api := demo.New(clock)
	fake := handlerTransport{s.Handler()}

	type listed struct {
		ID    string `json:"database_id"`
		Name  string `json:"database_name"`
		Plan  string `json:"type"`
		State string `json:"state"`
		Daily bool   `json:"daily_backup_enabled"`
	}
	var fromFake, fromDemo []listed
	_ = json.Unmarshal(getWith(t, fake, "http://fake/redis/databases"), &fromFake)
	_ = json.Unmarshal(getWith(t, api, demo.BaseURL+"/redis/databases"), &fromDemo)
	if len(fromFake) != len(demo.Databases()) || len(fromFake) < 7 || !slices.Equal(fromFake, fromDemo) {
		t.Errorf("databases\n%+v\nwant the demo's\n%+v", fromFake, fromDemo)
	}

	for _, at := range []time.Time{demoStart, demoStart.Add(time.Minute), demoStart.Add(10 * 24 * time.Hour)} {
		now = at
		for _, db := range demo.Databases() {
			got := getWith(t, fake, "http://fake/redis/list-backup/"+db.ID)
			want := getWith(t, api, demo.BaseURL+"/redis/list-backup/"+db.ID)
			if !bytes.Equal(got, want) {
				t.Errorf("%s at %v:\n%s\nwant the demo's\n%s", db.Name, at, got, want)
			}
		}
	}
}

func TestNewDemo(t *testing.T) {
	t.Parallel()
	s := upstashtest.NewDemo(nil)
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	body := getWith(t, tr, s.URL+"/redis/databases")
	var dbs []struct {
		Name  string `json:"database_name"`
		Plan  string `json:"type"`
		Daily bool   `json:"daily_backup_enabled"`
	}
	if err := json.Unmarshal(body, &dbs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []string{"orders true", "sessions true", "analytics true", "scratch-cache false", "payments true", "inventory true", "search-index true"}
	var got []string
	for _, db := range dbs {
		got = append(got, db.Name+" "+map[bool]string{true: "true", false: "false"}[db.Daily])
	}
	if !slices.Equal(got, want) {
		t.Errorf("databases %v, want %v", got, want)
	}
	if dbs[4].Plan != "pro" {
		t.Errorf("payments plan %q, want pro", dbs[4].Plan)
	}
}
