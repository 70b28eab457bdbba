package upstashtest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Database is a Redis database as the fake lists it: the client's own
// upstash.Database. Empty Plan, State and Region take the defaults "payg",
// "active" and "global", so a test sets only what it checks.
type Database = upstash.Database

// Secrets the fake puts in database answers, as the real API does unless
// asked for credentials=hide. They are fake; tests look for them in logs,
// errors and metrics to prove they never get there.
const (
	FakePassword          = "FAKE-redis-password-must-not-leak"
	FakeRESTToken         = "FAKE-rest-token-must-not-leak"
	FakeReadOnlyRESTToken = "FAKE-read-only-rest-token-must-not-leak"
)

// Backup is one entry of list-backup in its wire form, field for field as the
// OpenAPI document names them: the type the demo serves. An empty CustomerID
// is sent as the server's account e-mail and an empty DailyBackup or
// HourlyBackup as "false". Shapes this type cannot express (booleans for
// daily_backup, missing fields, old field names) go through SetRawBackups.
type Backup = demo.Backup

// databaseEntry holds a database with its two get-database answers encoded
// once, since credentials=hide only picks between them.
type databaseEntry struct {
	db     Database
	full   []byte
	hidden []byte
}

// backupSource is what list-backup serves for one database: bytes encoded
// when the backups were set, or a function of the clock at request time.
type backupSource struct {
	body []byte
	at   func(now time.Time) []Backup
}

// wireDatabase is db as the server lists it, with the credentials the real
// API sends unless asked to hide them.
func (s *Server) wireDatabase(db Database, hideCredentials bool) demo.DatabaseWire {
	w := demo.WireDatabase(db, s.opts.email)
	if !hideCredentials {
		w.Password, w.RESTToken, w.ReadOnlyRESTToken = FakePassword, FakeRESTToken, FakeReadOnlyRESTToken
	}
	return w
}

func withDefaults(db Database) Database {
	if db.Plan == "" {
		db.Plan = "payg"
	}
	if db.State == "" {
		db.State = "active"
	}
	if db.Region == "" {
		db.Region = "global"
	}
	return db
}

func (s *Server) newDatabaseEntry(db Database) *databaseEntry {
	db = withDefaults(db)
	// Marshalling a struct of strings, ints and bools cannot fail.
	full, _ := json.Marshal(s.wireDatabase(db, false))
	hidden, _ := json.Marshal(s.wireDatabase(db, true))
	return &databaseEntry{db: db, full: full, hidden: hidden}
}

// AddDatabase adds db to the account, or replaces the database with its ID.
// A database added without backups lists an empty array.
func (s *Server) AddDatabase(db Database) {
	e := s.newDatabaseEntry(db)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putDatabaseLocked(e)
}

func (s *Server) putDatabaseLocked(e *databaseEntry) {
	if _, ok := s.databases[e.db.ID]; !ok {
		s.order = append(s.order, e.db.ID)
	}
	s.databases[e.db.ID] = e
	s.databaseList = nil
}

// RemoveDatabase removes a database and its backups, as when it is deleted
// from the account. Faults set for it stay until cleared.
func (s *Server) RemoveDatabase(databaseID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.databases[databaseID]; !ok {
		delete(s.backups, databaseID)
		return
	}
	delete(s.databases, databaseID)
	delete(s.backups, databaseID)
	for i, id := range s.order {
		if id == databaseID {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.databaseList = nil
}

// Databases returns the account's databases in the order they were added,
// with defaults filled in.
func (s *Server) Databases() []Database {
	s.mu.RLock()
	defer s.mu.RUnlock()
	dbs := make([]Database, 0, len(s.order))
	for _, id := range s.order {
		dbs = append(dbs, s.databases[id].db)
	}
	return dbs
}

// SetBackups sets what list-backup answers for databaseID, encoded now so
// serving it is a copy of bytes. The database need not be in the account:
// list-backup then answers for an id that list-databases does not show.
func (s *Server) SetBackups(databaseID string, backups []Backup) {
	body := demo.EncodeBackups(s.opts.email, backups)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backups[databaseID] = backupSource{body: body}
}

// SetRawBackups makes list-backup answer body verbatim, with status 200 and
// Content-Type application/json, for drift and malformed answers. Other
// statuses are faults (SetFault).
func (s *Server) SetRawBackups(databaseID string, body []byte) {
	body = append([]byte(nil), body...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backups[databaseID] = backupSource{body: body}
}

// SetBackupsFunc makes list-backup answer at(now) with now read from the
// server's clock at each request, so backups appear and complete as time
// moves. It is encoded on every request: meant for small casts like the demo.
func (s *Server) SetBackupsFunc(databaseID string, at func(now time.Time) []Backup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backups[databaseID] = backupSource{at: at}
}

// answer is the ordinary answer to a routed GET, before faults.
func (s *Server) answer(endpoint, databaseID string, hideCredentials bool) reply {
	switch endpoint {
	case upstash.EndpointListDatabases:
		return reply{http.StatusOK, jsonContent, s.databaseListBody()}
	case EndpointGetDatabase:
		s.mu.RLock()
		e, ok := s.databases[databaseID]
		s.mu.RUnlock()
		switch {
		case !ok:
			return notFound
		case hideCredentials:
			return reply{http.StatusOK, jsonContent, e.hidden}
		default:
			return reply{http.StatusOK, jsonContent, e.full}
		}
	case upstash.EndpointListBackup:
		s.mu.RLock()
		src, hasBackups := s.backups[databaseID]
		_, hasDatabase := s.databases[databaseID]
		s.mu.RUnlock()
		switch {
		case src.at != nil:
			return reply{http.StatusOK, jsonContent, demo.EncodeBackups(s.opts.email, src.at(s.opts.clock()))}
		case hasBackups:
			return reply{http.StatusOK, jsonContent, src.body}
		case hasDatabase:
			return reply{http.StatusOK, jsonContent, []byte("[]")}
		default:
			return notFound
		}
	}
	return pageNotFound
}

// databaseListBody returns the encoded list-databases answer, rebuilding it
// after the cast changed. Rebuilding lazily keeps adding thousands of
// databases one by one linear.
func (s *Server) databaseListBody() []byte {
	s.mu.RLock()
	body := s.databaseList
	s.mu.RUnlock()
	if body != nil {
		return body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.databaseList == nil {
		buf := []byte{'['}
		for i, id := range s.order {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, s.databases[id].full...)
		}
		s.databaseList = append(buf, ']')
	}
	return s.databaseList
}
