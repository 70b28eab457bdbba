package upstashtest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// AllDatabases is the database id that makes SetFault apply a fault to
// calls about every database that has no fault of its own.
const AllDatabases = "*"

// Fault changes how the server answers calls it applies to. Its parts act in
// this order: Latency, then Hang or ResetConnection (no answer at all), else
// the answer with Status, Body and RetryAfter, trickled if TrickleInterval is
// set. The zero Fault changes nothing.
type Fault struct {
	// Status replaces the answer's status; 0 keeps it.
	Status int
	// Body replaces the answer's body. When nil, the ordinary body is kept
	// if Status is 0 or the ordinary status, else {"error":"<status text>"}
	// is sent.
	Body []byte
	// ContentType goes with Body; application/json when empty.
	ContentType string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Latency delays the answer. It ends early, with the connection dropped,
	// when the request's context ends or the server closes.
	Latency time.Duration
	// Hang holds the request without answering until the client gives up or
	// the server closes, then drops the connection. Through Handler on a
	// writer that cannot be hijacked, nothing is written.
	Hang bool
	// ResetConnection closes the connection with a TCP reset instead of
	// answering. It needs a connection the handler can hijack (NewServer);
	// elsewhere the handler aborts with http.ErrAbortHandler.
	ResetConnection bool
	// TrickleInterval, when positive, sends the headers (with the full
	// Content-Length) at once and then the body one byte per interval, to
	// exercise clients' body read timeouts.
	TrickleInterval time.Duration
	// Times limits the fault to that many requests, after which it clears
	// itself (a 429 followed by success); 0 keeps it until cleared.
	Times int
}

type faultEntry struct {
	fault Fault
	// remaining is the number of requests left, -1 for no limit.
	remaining int
}

func newFaultEntry(f Fault) *faultEntry {
	if f.Body != nil {
		f.Body = append([]byte(nil), f.Body...)
	}
	e := &faultEntry{fault: f, remaining: -1}
	if f.Times > 0 {
		e.remaining = f.Times
	}
	return e
}

// SetFault applies f to list-backup and get-database calls about databaseID,
// known to the account or not, replacing any fault it had. AllDatabases sets
// the fault for every database without one.
func (s *Server) SetFault(databaseID string, f Fault) {
	e := newFaultEntry(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[databaseID] = e
}

// ClearFault removes the fault set for databaseID.
func (s *Server) ClearFault(databaseID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, databaseID)
}

// SetListDatabasesFault applies f to list-databases calls.
func (s *Server) SetListDatabasesFault(f Fault) {
	e := newFaultEntry(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listFault = e
}

// ClearListDatabasesFault removes the list-databases fault.
func (s *Server) ClearListDatabasesFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listFault = nil
}

// SetLatency delays every call, authorised or not, by d before anything else
// happens, like the round trip to a distant API. The wait ends early when the
// request's context ends or the server closes. 0 removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// takeFault returns the fault for a call and counts it against Times.
func (s *Server) takeFault(endpoint, databaseID string) (Fault, bool) {
	s.mu.RLock()
	e := s.faultLocked(endpoint, databaseID)
	s.mu.RUnlock()
	if e == nil {
		return Fault{}, false
	}
	if e.remaining < 0 {
		return e.fault, true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Another request may have used up the last one since the read lock.
	e = s.faultLocked(endpoint, databaseID)
	if e == nil {
		return Fault{}, false
	}
	if e.remaining > 0 {
		e.remaining--
		if e.remaining == 0 {
			s.dropFaultLocked(endpoint, databaseID, e)
		}
	}
	return e.fault, true
}

func (s *Server) faultLocked(endpoint, databaseID string) *faultEntry {
	if endpoint == upstash.EndpointListDatabases {
		return s.listFault
	}
	if e, ok := s.faults[databaseID]; ok {
		return e
	}
	return s.faults[AllDatabases]
}

func (s *Server) dropFaultLocked(endpoint, databaseID string, e *faultEntry) {
	switch {
	case endpoint == upstash.EndpointListDatabases:
		s.listFault = nil
	case s.faults[databaseID] == e:
		delete(s.faults, databaseID)
	default:
		delete(s.faults, AllDatabases)
	}
}

// serveFault answers with f applied to the ordinary answer a and returns
// the status sent, 0 when none was.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, a reply) int {
	if err := s.wait(r, f.Latency); err != nil {
		dropConnection(w)
		return 0
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed.Done():
		}
		dropConnection(w)
		return 0
	case f.ResetConnection:
		if !dropConnection(w) {
			panic(http.ErrAbortHandler) // net/http's own way to abort an answer
		}
		return 0
	}

	a = f.shape(a)
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.TrickleInterval > 0 {
		return s.trickle(w, r, a, f.TrickleInterval)
	}
	return write(w, a)
}

func (f Fault) shape(a reply) reply {
	status := a.status
	if f.Status != 0 {
		status = f.Status
	}
	switch {
	case f.Body != nil:
		a.body = f.Body
		a.contentType = jsonContent
		if f.ContentType != "" {
			a.contentType = f.ContentType
		}
	case status != a.status:
		a.body = []byte(`{"error":` + strconv.Quote(http.StatusText(status)) + `}`)
		a.contentType = jsonContent
	}
	a.status = status
	return a
}

// trickle writes a's body one byte per interval. If the request ends
// midway the body stays short of its Content-Length, which net/http answers
// by closing the connection, as a client reading it would see.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, a reply, interval time.Duration) int {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for i := range a.body {
		if s.wait(r, interval) != nil {
			break
		}
		if _, err := w.Write(a.body[i : i+1]); err != nil {
			break
		}
		if rc.Flush() != nil {
			break
		}
	}
	return a.status
}

// wait sleeps for d, ending early with an error when the request's context
// ends or the server closes. A zero wait does not sleep, so a sleep hook
// sees only the waits a test asked for.
func (s *Server) wait(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if s.opts.sleep != nil {
		// The hook takes one context: the request's, also ended by Close.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(s.closed, cancel)()
		return s.opts.sleep(ctx, d)
	}
	t := timers.Get().(*time.Timer)
	t.Reset(d)
	defer func() { t.Stop(); timers.Put(t) }()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	case <-s.closed.Done():
		return s.closed.Err()
	}
}

// timers are the stopped timers of finished waits. Since Go 1.23 a stopped
// or reset timer delivers no stale tick, so one is safe to use again.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// dropConnection closes the request's connection with a TCP reset, without
// an answer, and reports whether it could.
func dropConnection(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// A *net.TCPConn, or a front end's wrapper of one (scripts/fakeapi).
	// Linger 0 sends RST rather than FIN: a reset, not a clean close.
	if tcp, ok := conn.(interface{ SetLinger(sec int) error }); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
	return true
}
