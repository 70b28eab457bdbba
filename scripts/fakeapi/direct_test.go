package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// listBackupCount is the list_backup count of GET /-/fake/requests.
func listBackupCount(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	_, _, b := get(t, srv, "/-/fake/requests")
	var counts map[string]int
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatal(err)
	}
	return counts["list_backup"]
}

// TestDirect checks the listener's own answers and that calls it must not
// answer still reach net/http. The API calls go on connections of their
// own, as the exporter's do: a control call hands its connection over.
func TestDirect(t *testing.T) {
	srv, f := newTestFakeAndAPI(t, 2, 3)
	db := upstashtest.GeneratedDatabaseID(1)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	get := func(t *testing.T, srv *httptest.Server, path string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
		resp, err := (&http.Client{Transport: tr}).Do(req)
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
	if code, _, b := get(t, srv, "/redis/databases"); code != 200 || !strings.Contains(string(b), db) {
		t.Errorf("list-databases: %d %.100s", code, b)
	}
	code, h, b := get(t, srv, "/redis/list-backup/"+db)
	var backups []upstashtest.Backup
	if err := json.Unmarshal(b, &backups); code != 200 || err != nil || len(backups) != 3 {
		t.Fatalf("direct answer %d, %d backups, %v", code, len(backups), err)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("Content-Length") == "" || h.Get("Date") == "" {
		t.Errorf("direct headers %v", h)
	}

	post(t, srv, "/-/fake/fault?db="+db+"&latency=30ms", http.StatusOK)
	start := time.Now()
	if code, _, b2 := get(t, srv, "/redis/list-backup/"+db); code != 200 || string(b2) != string(b) || time.Since(start) < 30*time.Millisecond {
		t.Errorf("with latency: %d after %v", code, time.Since(start))
	}
	post(t, srv, "/-/fake/fault?db="+db+"&status=503", http.StatusOK)
	if code, _, _ := get(t, srv, "/redis/list-backup/"+db); code != http.StatusServiceUnavailable {
		t.Errorf("with a fault: %d, want 503", code)
	}
	if code, _, _ := get(t, srv, "/redis/list-backup/nowhere"); code != http.StatusNotFound {
		t.Errorf("unknown database: %d, want 404", code)
	}
	if n, direct := listBackupCount(t, srv), f.directBackups.Load(); n != 4 || direct != 2 {
		t.Errorf("%d list-backup calls counted, %d answered directly; want 4 and 2", n, direct)
	}
	if n := f.directLists.Load(); n != 1 {
		t.Errorf("%d list-databases calls answered directly, want 1", n)
	}
}

// TestDirectHandsOver sends, on one connection, calls the listener answers
// and calls it must leave to net/http, pipelined in one write.
func TestDirectHandsOver(t *testing.T) {
	srv, f := newTestFakeAndAPI(t, 1, 2)
	db := upstashtest.GeneratedDatabaseID(0)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auth := "Authorization: Basic ZmFrZS1hY2NvdW50QGV4YW1wbGUuY29tOmZha2UtZGV2ZWxvcGVyLWFwaS1rZXktMDAwMA==\r\n"
	call := "GET /redis/list-backup/" + db + " HTTP/1.1\r\nHost: fake\r\n"
	reqs := []struct {
		req  string
		want int
	}{
		{call + auth + "\r\n", 200},
		{call + "Authorization: Basic eDp5\r\n\r\n", 401},
		{call + auth + "\r\n", 200}, // now through net/http
	}
	var all strings.Builder
	for _, r := range reqs {
		all.WriteString(r.req)
	}
	if _, err := io.WriteString(c, all.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i, r := range reqs {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != r.want || err != nil {
			t.Errorf("answer %d: %d, %v; want %d", i, resp.StatusCode, err, r.want)
		}
	}
	if n := f.directBackups.Load(); n != 1 {
		t.Errorf("%d calls answered directly, want the first only", n)
	}
	// Each first on a connection of its own.
	for _, first := range []struct {
		req  string
		want int
	}{
		{call + auth + "Connection: close\r\n\r\n", 200},
		{call + auth + "Content-Length: 2\r\n\r\n{}", 200},
		{call + "\r\n", 401},
		{"GET /redis/list-backup/../databases HTTP/1.1\r\nHost: fake\r\n" + auth + "\r\n", 404},
	} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, first.req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != first.want {
			t.Errorf("%q: %v, want %d", first.req, err, first.want)
		}
		if err == nil {
			_ = resp.Body.Close()
		}
		_ = c.Close()
	}
}

// TestDirectClose ends a call waiting on latency when the server closes.
// The call has a connection of its own: on the control call's, handed to
// net/http, it would hold httptest.Server.Close for the hour.
func TestDirectClose(t *testing.T) {
	srv := newTestFake(t, 1, 1)
	post(t, srv, "/-/fake/latency?d=1h", http.StatusOK)
	errc := make(chan error, 1)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/redis/list-backup/"+upstashtest.GeneratedDatabaseID(0), nil)
		req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	for listBackupCount(t, srv) == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("call answered, want the connection closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("call still held after Close")
	}
}
