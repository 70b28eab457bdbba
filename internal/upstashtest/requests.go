package upstashtest

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// EndpointGetDatabase names GET /redis/database/{id}, which the server
// serves as the API does and the exporter never calls: a call to it is a
// bug the request log shows.
const EndpointGetDatabase = "get_database"

// Request is one call the server received, recorded when its handler ended.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	// Endpoint is upstash.EndpointListBackup, upstash.EndpointListDatabases or
	// EndpointGetDatabase, empty for a path the API does not have.
	Endpoint   string
	DatabaseID string
	// Status is the HTTP status sent, 0 when the call got no answer
	// (hang, reset, client gone).
	Status int
	// Time is the server's clock when the call arrived.
	Time time.Time
}

// counts counts the calls to each endpoint, and to paths the API does not
// have, without a lock: a server that logs no requests takes none.
type counts [4]atomic.Int64

// of returns the counter of endpoint, nil for a name no call gets.
func (c *counts) of(endpoint string) *atomic.Int64 {
	switch endpoint {
	case upstash.EndpointListBackup:
		return &c[0]
	case upstash.EndpointListDatabases:
		return &c[1]
	case EndpointGetDatabase:
		return &c[2]
	case "":
		return &c[3]
	}
	return nil
}

func (s *Server) record(r Request) {
	if c := s.counts.of(r.Endpoint); c != nil {
		c.Add(1)
	}
	if s.opts.logLimit == 0 {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = append(s.log, r)
	// Trimming only when twice over the limit keeps recording amortised O(1).
	if limit := s.opts.logLimit; limit > 0 && len(s.log) >= 2*limit {
		s.log = slices.Clone(s.log[len(s.log)-limit:])
	}
}

// Requests returns the logged calls, oldest first (by the time their
// handlers ended), at most the limit set by WithRequestLogLimit.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	log := s.log
	if limit := s.opts.logLimit; limit > 0 && len(log) > limit {
		log = log[len(log)-limit:]
	}
	return slices.Clone(log)
}

// RequestCount returns how many calls to endpoint (an upstash.Endpoint*
// name, or "" for unknown paths) ended since the start or the last
// ResetRequests, whatever the log limit.
func (s *Server) RequestCount(endpoint string) int {
	if c := s.counts.of(endpoint); c != nil {
		return int(c.Load())
	}
	return 0
}

// ResetRequests empties the request log and the counts.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
	for i := range s.counts {
		s.counts[i].Store(0)
	}
}
