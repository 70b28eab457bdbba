package upstashtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Server is a fake Upstash Developer API. Its methods are safe for concurrent
// use, also while requests are being served.
type Server struct {
	// URL is the base URL standing for https://api.upstash.com/v2, such as
	// http://127.0.0.1:41233. Empty for a Server made with New, which has no
	// listener.
	URL string

	opts options
	ts   *httptest.Server
	// closed ends at Close, so requests that hang or wait on latency let go
	// and Close does not block on them.
	closed    context.Context
	closeOnce context.CancelFunc
	// handlers is read-locked by every running handler, so Close can wait
	// for them, including those whose connection was hijacked, which
	// httptest.Server.Close does not wait for.
	handlers sync.RWMutex

	mu        sync.RWMutex
	databases map[string]*databaseEntry
	order     []string // database ids in the order they were added
	// databaseList is the encoded answer of list-databases, nil after the
	// cast changed until the next request rebuilds it.
	databaseList []byte
	backups      map[string]backupSource
	faults       map[string]*faultEntry
	listFault    *faultEntry
	latency      time.Duration

	logMu  sync.Mutex
	log    []Request
	counts counts
}

// New returns a Server without a listener, for use through Handler (an
// in-process transport, httptest.NewRecorder). Call Close when done so
// requests held by Hang faults or latency are released.
func New(opts ...Option) *Server {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	closed, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:      o,
		closed:    closed,
		closeOnce: cancel,
		databases: make(map[string]*databaseEntry),
		backups:   make(map[string]backupSource),
		faults:    make(map[string]*faultEntry),
	}
	if o.demo {
		s.addDemoCast()
	}
	return s
}

// NewServer returns a started Server listening on a loopback port; use URL as
// the client's base URL and Close when done.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	s.ts = httptest.NewServer(s.Handler())
	s.URL = s.ts.URL
	return s
}

// Close releases every request still held by a fault or latency, shuts the
// listener of a started Server down and waits for running handlers to end,
// so the request log is complete when it returns.
func (s *Server) Close() {
	s.closeOnce()
	if s.ts != nil {
		s.ts.Close()
	}
	s.handlers.Lock()
	defer s.handlers.Unlock()
}

// Handler returns the fake API as an http.Handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.RLock()
	defer s.handlers.RUnlock()

	req := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Time:     s.opts.clock(),
	}
	req.Endpoint, req.DatabaseID = route(r.URL.Path)
	// Recorded even when a fault aborts the handler, with status 0.
	defer func() { s.record(req) }()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.closed, cancel)()

	req.Status = s.serve(ctx, w, r, req.Endpoint, req.DatabaseID)
}

// serve answers one request and returns the status sent, 0 when none was.
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, endpoint, databaseID string) int {
	s.mu.RLock()
	latency := s.latency
	s.mu.RUnlock()
	if err := s.wait(ctx, latency); err != nil {
		dropConnection(w)
		return 0
	}

	if email, key, ok := r.BasicAuth(); !ok || email != s.opts.email || key != s.opts.apiKey {
		w.Header().Set("WWW-Authenticate", `Basic realm="Upstash"`)
		return write(w, reply{http.StatusUnauthorized, jsonContent, []byte(`{"error":"Unauthorized"}`)})
	}
	if endpoint == "" {
		return write(w, pageNotFound)
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return write(w, reply{http.StatusMethodNotAllowed, jsonContent, []byte(`{"error":"Method Not Allowed"}`)})
	}

	answer := s.answer(endpoint, databaseID, r.URL.Query().Get("credentials") == "hide")
	if f, ok := s.takeFault(endpoint, databaseID); ok {
		return s.serveFault(ctx, w, f, answer)
	}
	return write(w, answer)
}

// route maps a path to the endpoint it names and the database id in it.
// Paths the API does not have give an empty endpoint.
func route(path string) (endpoint, databaseID string) {
	if path == "/redis/databases" {
		return upstash.EndpointListDatabases, ""
	}
	for _, r := range databaseRoutes {
		if id, ok := strings.CutPrefix(path, r.prefix); ok && id != "" && !strings.Contains(id, "/") {
			return r.endpoint, id
		}
	}
	return "", ""
}

var databaseRoutes = []struct{ prefix, endpoint string }{
	{"/redis/list-backup/", upstash.EndpointListBackup},
	{"/redis/database/", EndpointGetDatabase},
}

const jsonContent = "application/json"

// reply is a complete answer, before any fault shapes it.
type reply struct {
	status      int
	contentType string
	body        []byte
}

// notFound is the answer for a database the account does not have: a bare
// JSON string, one of the error shapes the real API sends.
var notFound = reply{http.StatusNotFound, jsonContent, []byte(`"database not found"`)}

// pageNotFound answers paths the API does not have, in plain text like any
// web server.
var pageNotFound = reply{http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 page not found\n")}

func write(w http.ResponseWriter, a reply) int {
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body) // the client hanging up is not the fake's concern
	return a.status
}
