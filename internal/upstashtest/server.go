package upstashtest

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
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

	opts    options
	ts      *httptest.Server
	handler http.Handler
	// auth is the Authorization header of the accepted credentials, so an
	// ordinary call is let in without decoding its header.
	auth string
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
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte(o.email+":"+o.apiKey)),
		closed:    closed,
		closeOnce: cancel,
		databases: make(map[string]*databaseEntry),
		backups:   make(map[string]backupSource),
		faults:    make(map[string]*faultEntry),
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
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
	return s.handler
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.RLock()
	defer s.handlers.RUnlock()

	req := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
	}
	if s.opts.logLimit != 0 {
		req.Time = s.opts.clock()
	}
	req.Endpoint, req.DatabaseID = route(r.URL.Path)
	// Recorded even when a fault aborts the handler, with status 0.
	defer func() { s.record(req) }()

	req.Status = s.serve(w, r, req.Endpoint, req.DatabaseID)
}

// serve answers one request and returns the status sent, 0 when none was.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint, databaseID string) int {
	s.mu.RLock()
	latency := s.latency
	s.mu.RUnlock()
	if err := s.wait(r, latency); err != nil {
		dropConnection(w)
		return 0
	}

	if !s.authorized(r) {
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

	// Only get-database reads the query; list-backup calls skip parsing it.
	hide := endpoint == EndpointGetDatabase && r.URL.Query().Get("credentials") == "hide"
	answer := s.answer(endpoint, databaseID, hide)
	if f, ok := s.takeFault(endpoint, databaseID); ok {
		return s.serveFault(w, r, f, answer)
	}
	return write(w, answer)
}

// authorized reports whether r carries the accepted credentials. The
// header the client library sends matches s.auth byte for byte; any other
// spelling is decoded and compared.
func (s *Server) authorized(r *http.Request) bool {
	if v := r.Header["Authorization"]; len(v) > 0 && v[0] == s.auth {
		return true
	}
	email, key, ok := r.BasicAuth()
	return ok && email == s.opts.email && key == s.opts.apiKey
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

var jsonContentHeader = []string{jsonContent}

// write sends a whole answer. Its Content-Length spares net/http the
// chunked encoding of bodies over its 2 KiB buffer.
func write(w http.ResponseWriter, a reply) int {
	h := w.Header()
	if a.contentType == jsonContent {
		h["Content-Type"] = jsonContentHeader
	} else {
		h["Content-Type"] = []string{a.contentType}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(a.body))}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body) // the client hanging up is not the fake's concern
	return a.status
}
