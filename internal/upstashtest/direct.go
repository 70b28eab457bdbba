package upstashtest

import (
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// DirectAnswer reports how the server would answer an authorised GET of
// path (without a query) when the answer is an ordinary list-databases or
// list-backup one that a front end writing HTTP itself may send in its
// place: status 200, Content-Type application/json, body, after a wait of
// latency (the server's latency plus that of a fault that changes nothing
// else). ok is false for any other answer (404, get-database, a fault with
// a status, a body, a hang, a reset, a trickle or a Times limit, backups
// made at request time), which only Handler gives. The cast and faults are
// read once, before the wait, and the call is neither logged nor counted:
// the front end counts it. scripts/fakeapi answers most benchmark calls
// this way.
func (s *Server) DirectAnswer(path string) (latency time.Duration, body []byte, ok bool) {
	endpoint, databaseID := route(path)
	if endpoint != upstash.EndpointListDatabases && endpoint != upstash.EndpointListBackup {
		return 0, nil, false
	}
	s.mu.RLock()
	latency = s.latency
	if e := s.faultLocked(endpoint, databaseID); e != nil {
		if e.remaining >= 0 || !e.fault.onlyLatency() {
			s.mu.RUnlock()
			return 0, nil, false
		}
		latency += e.fault.Latency
	}
	src, hasBackups := s.backups[databaseID]
	hasDatabase := s.databases[databaseID] != nil
	s.mu.RUnlock()
	switch {
	case endpoint == upstash.EndpointListDatabases:
		return latency, s.databaseListBody(), true
	case src.at != nil:
		return 0, nil, false
	case hasBackups:
		return latency, src.body, true
	case hasDatabase:
		return latency, []byte("[]"), true
	}
	return 0, nil, false
}

// onlyLatency reports whether f changes nothing but when the answer comes.
func (f Fault) onlyLatency() bool {
	return f.Status == 0 && f.Body == nil && f.ContentType == "" && f.RetryAfter == "" &&
		!f.Hang && !f.ResetConnection && f.TrickleInterval == 0
}
