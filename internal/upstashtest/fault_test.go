package upstashtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

func TestFaultAnswers(t *testing.T) {
	t.Parallel()
	backupsPath := "/redis/list-backup/" + ordersID
	for _, tc := range []struct {
		name  string
		set   func(*upstashtest.Server)
		path  string
		want  []answer // one per call, in order; header holds only what is checked
		check string   // header checked in want
	}{
		{
			name: "status keeps a JSON error body",
			set:  func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Status: 500}) },
			path: backupsPath,
			want: []answer{{status: 500, body: `{"error":"Internal Server Error"}`}},
		},
		{
			name: "plain-text maintenance page",
			set: func(s *upstashtest.Server) {
				s.SetFault(ordersID, upstashtest.Fault{Status: 503, Body: []byte("down for maintenance"), ContentType: "text/plain"})
			},
			path:  backupsPath,
			want:  []answer{{status: 503, body: "down for maintenance", header: http.Header{"Content-Type": {"text/plain"}}}},
			check: "Content-Type",
		},
		{
			name: "Retry-After on 429",
			set: func(s *upstashtest.Server) {
				s.SetFault(ordersID, upstashtest.Fault{Status: 429, Body: []byte(`{"error":"Too many requests"}`), RetryAfter: "7"})
			},
			path:  backupsPath,
			want:  []answer{{status: 429, body: `{"error":"Too many requests"}`, header: http.Header{"Retry-After": {"7"}}}},
			check: "Retry-After",
		},
		{
			name: "malformed body with status 200",
			set:  func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Body: []byte(`[{"database_id":`)}) },
			path: backupsPath,
			want: []answer{{status: 200, body: `[{"database_id":`}},
		},
		{
			name: "Times clears the fault",
			set:  func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Status: 429, Times: 2}) },
			path: "/redis/database/" + ordersID + "?credentials=hide",
			want: []answer{{status: 429}, {status: 429}, {status: 200}, {status: 200}},
		},
		{
			name: "cleared fault",
			set: func(s *upstashtest.Server) {
				s.SetFault(ordersID, upstashtest.Fault{Status: 500})
				s.ClearFault(ordersID)
			},
			path: backupsPath,
			want: []answer{{status: 200}},
		},
		{
			name: "fault for a database the account lacks",
			set:  func(s *upstashtest.Server) { s.SetFault("other", upstashtest.Fault{Status: 403}) },
			path: "/redis/list-backup/other",
			want: []answer{{status: 403, body: `{"error":"Forbidden"}`}},
		},
		{
			name: "AllDatabases",
			set:  func(s *upstashtest.Server) { s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503}) },
			path: backupsPath,
			want: []answer{{status: 503}},
		},
		{
			name: "a database's own fault wins over AllDatabases",
			set: func(s *upstashtest.Server) {
				s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503})
				s.SetFault(ordersID, upstashtest.Fault{Status: 400})
			},
			path: backupsPath,
			want: []answer{{status: 400}},
		},
		{
			name: "AllDatabases leaves list-databases alone",
			set:  func(s *upstashtest.Server) { s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Status: 503}) },
			path: "/redis/databases",
			want: []answer{{status: 200}},
		},
		{
			name: "list-databases fault",
			set: func(s *upstashtest.Server) {
				s.SetListDatabasesFault(upstashtest.Fault{Status: 401, Body: []byte(`{"error":"Unauthorized"}`), Times: 1})
			},
			path: "/redis/databases",
			want: []answer{{status: 401, body: `{"error":"Unauthorized"}`}, {status: 200}},
		},
		{
			name: "cleared list-databases fault",
			set: func(s *upstashtest.Server) {
				s.SetListDatabasesFault(upstashtest.Fault{Status: 500})
				s.ClearListDatabasesFault()
			},
			path: "/redis/databases",
			want: []answer{{status: 200}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newOrdersServer(t)
			tc.set(s)
			for i, want := range tc.want {
				got := get(t, s, tc.path)
				if got.status != want.status || want.body != "" && got.body != want.body {
					t.Errorf("call %d: %d %q, want %d %q", i, got.status, got.body, want.status, want.body)
				}
				if tc.check != "" && got.header.Get(tc.check) != want.header.Get(tc.check) {
					t.Errorf("call %d: %s %q, want %q", i, tc.check, got.header.Get(tc.check), want.header.Get(tc.check))
				}
			}
		})
	}
}

func TestFaultResetConnection(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.SetFault(ordersID, upstashtest.Fault{ResetConnection: true})
	_, err := call(t.Context(), t, s, http.MethodGet, "/redis/list-backup/"+ordersID, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("error %v, want a connection reset", err)
	}
	s.Close() // waits for the handler, so the log is complete
	if log := s.Requests(); len(log) != 1 || log[0].Status != 0 {
		t.Errorf("log %+v, want one call without status", log)
	}
}

func TestFaultHangEndsWithClient(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.SetFault(ordersID, upstashtest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := call(ctx, t, s, http.MethodGet, "/redis/list-backup/"+ordersID, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the client's deadline", err)
	}
}

// TestFaultHangEndsWithClose holds a call in a Hang fault and closes the
// server: Close must return and the caller must see the connection end.
// The sleep hook of a tiny fault latency tells the test the call arrived.
func TestFaultHangEndsWithClose(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	s := upstashtest.NewServer(upstashtest.WithSleep(func(context.Context, time.Duration) error {
		close(arrived) // only one call is made
		return nil
	}))
	s.SetFault(upstashtest.AllDatabases, upstashtest.Fault{Hang: true, Latency: time.Nanosecond})

	errc := make(chan error, 1)
	go func() {
		_, err := call(t.Context(), t, s, http.MethodGet, "/redis/list-backup/x", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
		errc <- err
	}()
	<-arrived
	s.Close()
	if err := <-errc; err == nil {
		t.Error("call answered, want the connection dropped")
	}
}

func TestFaultHangInProcess(t *testing.T) {
	t.Parallel()
	s := upstashtest.New()
	s.SetFault("x", upstashtest.Fault{Hang: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "/redis/list-backup/x", nil)
		r.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
		s.Handler().ServeHTTP(discard{}, r)
	}()
	s.Close()
	<-done
}

// sleepLog is a WithSleep hook that records the waits asked for and
// returns at once.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (l *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits = append(l.waits, d)
	return ctx.Err()
}

func (l *sleepLog) got() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.waits)
}

func TestLatencyWaits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		set       func(*upstashtest.Server)
		path      string
		wantWaits []time.Duration
	}{
		{"none", func(*upstashtest.Server) {}, "/redis/databases", nil},
		{"every call", func(s *upstashtest.Server) { s.SetLatency(50 * time.Millisecond) }, "/redis/databases", []time.Duration{50 * time.Millisecond}},
		{"also unauthorised calls", func(s *upstashtest.Server) { s.SetLatency(50 * time.Millisecond) }, "/nowhere", []time.Duration{50 * time.Millisecond}},
		{"fault latency after server latency", func(s *upstashtest.Server) {
			s.SetLatency(50 * time.Millisecond)
			s.SetFault(ordersID, upstashtest.Fault{Latency: 3 * time.Second})
		}, "/redis/list-backup/" + ordersID, []time.Duration{50 * time.Millisecond, 3 * time.Second}},
		{"list-databases fault latency", func(s *upstashtest.Server) {
			s.SetListDatabasesFault(upstashtest.Fault{Latency: time.Minute})
		}, "/redis/databases", []time.Duration{time.Minute}},
		{"trickle waits once a byte", func(s *upstashtest.Server) {
			s.SetRawBackups(ordersID, []byte("[]"))
			s.SetFault(ordersID, upstashtest.Fault{TrickleInterval: time.Second})
		}, "/redis/list-backup/" + ordersID, []time.Duration{time.Second, time.Second}},
		{"removed latency", func(s *upstashtest.Server) {
			s.SetLatency(50 * time.Millisecond)
			s.SetLatency(0)
		}, "/redis/databases", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var waits sleepLog
			s := newOrdersServer(t, upstashtest.WithSleep(waits.sleep))
			tc.set(s)
			if _, err := call(t.Context(), t, s, http.MethodGet, tc.path, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey); err != nil {
				t.Fatal(err)
			}
			if got := waits.got(); !slices.Equal(got, tc.wantWaits) {
				t.Errorf("waits %v, want %v", got, tc.wantWaits)
			}
		})
	}
}

// TestLatencyHoldsTheAnswer uses the real timer: with an hour of latency
// the call cannot be answered before the client's deadline.
func TestLatencyHoldsTheAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(*upstashtest.Server)
	}{
		{"server latency", func(s *upstashtest.Server) { s.SetLatency(time.Hour) }},
		{"fault latency", func(s *upstashtest.Server) { s.SetFault(ordersID, upstashtest.Fault{Latency: time.Hour}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newOrdersServer(t)
			tc.set(s)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			a, err := call(ctx, t, s, http.MethodGet, "/redis/list-backup/"+ordersID, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %+v, %v; want the client's deadline", a, err)
			}
		})
	}
}

func TestTrickle(t *testing.T) {
	t.Parallel()
	t.Run("whole body through the hook", func(t *testing.T) {
		t.Parallel()
		var waits sleepLog
		s := newOrdersServer(t, upstashtest.WithSleep(waits.sleep))
		plain := get(t, s, "/redis/list-backup/"+ordersID)
		s.SetFault(ordersID, upstashtest.Fault{TrickleInterval: time.Millisecond})
		trickled := get(t, s, "/redis/list-backup/"+ordersID)
		if trickled.status != 200 || trickled.body != plain.body {
			t.Errorf("trickled %d %q, want 200 %q", trickled.status, trickled.body, plain.body)
		}
		if n := len(waits.got()); n != len(plain.body) {
			t.Errorf("%d waits for %d bytes", n, len(plain.body))
		}
	})
	t.Run("headers at once, body held", func(t *testing.T) {
		t.Parallel()
		s := newOrdersServer(t)
		s.SetFault(ordersID, upstashtest.Fault{TrickleInterval: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/redis/list-backup/"+ordersID, nil)
		req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("headers did not come: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength <= 0 {
			t.Errorf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("body read error %v, want the client's deadline", err)
		}
	})
}

func TestFaultCountsInLog(t *testing.T) {
	t.Parallel()
	s := newOrdersServer(t)
	s.SetFault(ordersID, upstashtest.Fault{Status: 500, Times: 1})
	get(t, s, "/redis/list-backup/"+ordersID)
	get(t, s, "/redis/list-backup/"+ordersID)
	var statuses []int
	for _, r := range s.Requests() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{500, 200}) || s.RequestCount(upstash.EndpointListBackup) != 2 {
		t.Errorf("statuses %v, count %d", statuses, s.RequestCount(upstash.EndpointListBackup))
	}
}
