package collector

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// stubAPI is an API answering from memory. It counts calls, tracks how many
// list-backup calls are in flight, and can hold calls until gate is closed
// (or their context ends), announcing each held call on entered.
type stubAPI struct {
	mu          sync.Mutex
	databases   []upstash.Database
	listErr     error
	backups     map[string]upstash.BackupList
	errs        map[string]error
	gate        chan struct{}   // nil: answer at once
	gateIDs     map[string]bool // when set, only these ids wait for gate
	entered     chan string     // nil: no announcements
	listCalls   int
	backupCalls map[string]int
	inFlight    int
	maxInFlight int
}

func newStub() *stubAPI {
	return &stubAPI{
		backups:     map[string]upstash.BackupList{},
		errs:        map[string]error{},
		backupCalls: map[string]int{},
	}
}

func (s *stubAPI) ListDatabases(ctx context.Context) ([]upstash.Database, error) {
	s.mu.Lock()
	s.listCalls++
	dbs, err := append([]upstash.Database(nil), s.databases...), s.listErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return dbs, ctx.Err()
}

func (s *stubAPI) ListBackups(ctx context.Context, id string) (upstash.BackupList, error) {
	s.mu.Lock()
	s.backupCalls[id]++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	gate, entered := s.gate, s.entered
	if s.gateIDs != nil && !s.gateIDs[id] {
		gate = nil
	}
	list, err := s.backups[id], s.errs[id]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if entered != nil {
		entered <- id
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return upstash.BackupList{}, ctx.Err()
		}
	}
	if err != nil {
		return upstash.BackupList{}, err
	}
	return list, nil
}

func (s *stubAPI) set(f func(s *stubAPI)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *stubAPI) calls(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backupCalls[id]
}

func (s *stubAPI) listCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listCalls
}

// stubs maps account names to their stubs.
func stubs(m map[string]*stubAPI) NewAPI {
	return func(a config.Account) (API, error) { return m[a.Name], nil }
}

// newTestCollector builds a Collector that is closed when the test ends.
func newTestCollector(t *testing.T, accounts []config.Account, apis map[string]*stubAPI, opts Options) *Collector {
	t.Helper()
	c, err := New(accounts, stubs(apis), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func authError(endpoint string) error {
	return &upstash.APIError{Endpoint: endpoint, StatusCode: 401, Class: upstash.ClassHTTPStatus, Body: "Unauthorized"}
}

func serverError(endpoint, id string) error {
	return &upstash.APIError{Endpoint: endpoint, DatabaseID: id, StatusCode: 500, Class: upstash.ClassHTTPStatus, Body: "server problem"}
}
