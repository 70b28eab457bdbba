// Command fakeapi serves the fake Upstash Developer API of
// internal/upstashtest as a process of its own, on a loopback address, for
// tests that run the exporter binary as an operator would (end-to-end under
// Prometheus, memory limits, CPU benchmarks). It is not part of the
// exporter.
//
//	go run ./scripts/fakeapi --databases=3 --backups=30
//
// It prints its base URL (http://127.0.0.1:PORT, to use as api_url) as the
// first line on stdout once it listens, and stops on SIGTERM or SIGINT.
//
// The cast is generated: --databases databases with the ids
// upstashtest.GeneratedDatabaseID(0..n-1), each with --backups completed
// daily backups, the newest at the start of the current hour. Answers are
// encoded when the cast changes, so serving one is a copy of bytes. With
// --direct (scripts/cpubench.sh), the fake's listener writes ordinary
// list-databases and list-backup answers itself, in one write, and leaves
// every other call to net/http (see direct), so that the fake's own CPU
// takes less from the exporter a benchmark measures.
//
// Behaviour changes at run time through POST requests under /-/fake/ on the
// same port, with query parameters; "db" is a database id or "*" for every
// database without a setting of its own, "endpoint" is list_databases or
// list_backup (also get_database, which shares list_backup's faults):
//
//	POST /-/fake/stale?db=ID&age=50h[&count=M]   newest completed backup age old
//	POST /-/fake/backups?db=ID&count=N[&interval=1h]
//	                                              N completed backups, newest this hour
//	POST /-/fake/fault?endpoint=E[&db=ID]&status=503[&retry_after=30][&body=[]]
//	                  [&hang=1][&latency=2s][&times=N]
//	                                              answer a status, a body, or nothing
//	POST /-/fake/stream?db=ID&mb=200[&kind=garbage]
//	                                              list-backup streams mb MiB of valid
//	                                              backup entries (kind=backups) or of
//	                                              bytes that are not JSON (kind=garbage)
//	POST /-/fake/latency?d=50ms                   delay every API call
//	POST /-/fake/clear[?endpoint=E][&db=ID]       remove faults and streams
//	GET  /-/fake/requests                         API calls so far by endpoint, JSON
//	POST /-/fake/requests                         reset those counts
//
// A stream replaces a database's list-backup answer, faults included, until
// cleared. A streamed body is sent without Content-Length and made as it is
// written from one pre-encoded block, so many streams in flight cost the
// fake little memory and CPU.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback `address` to listen on")
	email := flag.String("email", upstashtest.DefaultEmail, "account e-mail the fake accepts")
	apiKey := flag.String("api-key", upstashtest.DefaultAPIKey, "Developer API key the fake accepts")
	databases := flag.Int("databases", 3, "generated databases")
	backups := flag.Int("backups", 30, "generated backups per database")
	latency := flag.Duration("latency", 0, "delay of every API call")
	direct := flag.Bool("direct", false, "answer ordinary list-databases and list-backup calls from the listener, without net/http (for CPU benchmarks)")
	flag.Parse()
	if err := run(*listen, *email, *apiKey, *databases, *backups, *latency, *direct); err != nil {
		fmt.Fprintln(os.Stderr, "fakeapi:", err)
		os.Exit(1)
	}
}

func run(listen, email, apiKey string, databases, backups int, latency time.Duration, direct bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--listen %s: only loopback addresses", listen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	f := newFake(email, apiKey, backups)
	defer f.api.Close()
	f.api.AddGeneratedDatabases(databases, backups)
	f.api.SetLatency(latency)

	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	if direct {
		l = newDirect(l, f)
	}
	go func() {
		<-ctx.Done()
		// Close, not Shutdown: streams and hung calls would hold Shutdown.
		_ = srv.Close()
	}()
	fmt.Printf("http://%s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type fake struct {
	api     *upstashtest.Server
	email   string
	apiKey  string
	backups int // per database, for stale

	mu      sync.RWMutex
	streams map[string]stream // by database id or "*"
	faulted map[string]bool   // database ids (or "*") given a fault
	latency time.Duration
	blocks  sync.Map // database id -> *block of its streams
	// streamed and directBackups count list-backup calls answered by a
	// stream and by the listener itself, directLists list-databases calls
	// answered by the listener: calls the upstashtest server does not see.
	streamed, directBackups, directLists atomic.Int64
}

type stream struct {
	size    int64
	garbage bool
}

func newFake(email, apiKey string, backups int) *fake {
	return &fake{
		api:     upstashtest.New(upstashtest.WithCredentials(email, apiKey), upstashtest.WithRequestLogLimit(0)),
		email:   email,
		apiKey:  apiKey,
		backups: backups,
		streams: map[string]stream{},
		faulted: map[string]bool{},
	}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/-/fake/") {
		f.control(w, r)
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/redis/list-backup/"); ok {
		if s, ok := f.stream(id); ok {
			f.serveStream(w, r, id, s)
			return
		}
	}
	f.api.Handler().ServeHTTP(w, r)
}

func (f *fake) stream(id string) (stream, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if s, ok := f.streams[id]; ok {
		return s, true
	}
	s, ok := f.streams[upstashtest.AllDatabases]
	return s, ok
}

// control changes the fake's behaviour; see the package comment.
func (f *fake) control(w http.ResponseWriter, r *http.Request) {
	what := strings.TrimPrefix(r.URL.Path, "/-/fake/")
	if what == "requests" && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{
			upstash.EndpointListDatabases:   int64(f.api.RequestCount(upstash.EndpointListDatabases)) + f.directLists.Load(),
			upstash.EndpointListBackup:      int64(f.api.RequestCount(upstash.EndpointListBackup)) + f.streamed.Load() + f.directBackups.Load(),
			upstashtest.EndpointGetDatabase: int64(f.api.RequestCount(upstashtest.EndpointGetDatabase)),
			"other":                         int64(f.api.RequestCount("")),
		})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := &params{Values: r.URL.Query()}
	db := q.str("db", upstashtest.AllDatabases)
	// Each case reads its parameters and returns the change, made only
	// when all of them were valid.
	var change func()
	switch what {
	case "requests":
		change = func() {
			f.api.ResetRequests()
			f.streamed.Store(0)
			f.directBackups.Store(0)
			f.directLists.Store(0)
		}
	case "stale":
		db, count, age := q.required("db"), q.num("count", max(f.backups, 1)), q.dur("age", 50*time.Hour)
		change = func() { f.setBackups(db, count, time.Now().Add(-age), 24*time.Hour) }
	case "backups":
		db, count, interval := q.required("db"), q.num("count", f.backups), q.dur("interval", 24*time.Hour)
		change = func() { f.setBackups(db, count, time.Now().Truncate(time.Hour), interval) }
	case "fault":
		fault := upstashtest.Fault{
			Status:     q.num("status", 0),
			RetryAfter: q.str("retry_after", ""),
			Hang:       q.str("hang", "") != "",
			Latency:    q.dur("latency", 0),
			Times:      q.num("times", 0),
		}
		if q.Has("body") {
			fault.Body = []byte(q.Get("body"))
		}
		change = func() { f.setFault(db, fault) }
		if q.endpoint() == upstash.EndpointListDatabases {
			change = func() { f.api.SetListDatabasesFault(fault) }
		}
	case "stream":
		kind := q.str("kind", "backups")
		if kind != "backups" && kind != "garbage" && q.err == nil {
			q.err = fmt.Errorf("kind=%q: want backups or garbage", kind)
		}
		s := stream{size: int64(q.num("mb", 1)) << 20, garbage: kind == "garbage"}
		change = func() { f.mu.Lock(); f.streams[db] = s; f.mu.Unlock() }
	case "latency":
		d := q.dur("d", 0)
		change = func() { f.api.SetLatency(d); f.mu.Lock(); f.latency = d; f.mu.Unlock() }
	case "clear":
		endpoint, db := q.str("endpoint", ""), q.str("db", "")
		change = func() { f.clear(endpoint, db) }
	default:
		http.NotFound(w, r)
		return
	}
	if q.err != nil {
		http.Error(w, q.err.Error(), http.StatusBadRequest)
		return
	}
	change()
	_, _ = fmt.Fprintln(w, "ok")
}

func (f *fake) setFault(db string, fault upstashtest.Fault) {
	f.api.SetFault(db, fault)
	f.mu.Lock()
	f.faulted[db] = true
	f.mu.Unlock()
}

// setBackups replaces a database's backups with count completed ones, the
// newest created at newest.
func (f *fake) setBackups(db string, count int, newest time.Time, interval time.Duration) {
	f.api.SetBackups(db, upstashtest.GenerateBackups(db, count, newest, interval))
	f.mu.Lock()
	delete(f.streams, db)
	f.mu.Unlock()
}

// clear removes faults and streams: of one endpoint and database when
// named, else all.
func (f *fake) clear(endpoint, db string) {
	if endpoint == "" || endpoint == upstash.EndpointListDatabases {
		f.api.ClearListDatabasesFault()
	}
	if endpoint == upstash.EndpointListDatabases {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if db != "" {
		f.api.ClearFault(db)
		delete(f.faulted, db)
		delete(f.streams, db)
		return
	}
	for id := range f.faulted {
		f.api.ClearFault(id)
	}
	clear(f.faulted)
	clear(f.streams)
}
