package collector

import (
	"cmp"
	"hash/fnv"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// accountState is one configured account and what refreshes learnt about it.
// Fields below api are guarded by Collector.mu.
type accountState struct {
	cfg config.Account
	api API
	// shard selects the databases this replica reads.
	shard Shard

	// listing is the last successful answer of list-databases, by id, and
	// listed its order.
	listing map[string]upstash.Database
	listed  []string
	// listedAt is when listing was read.
	listedAt time.Time
	// listedCount is how many databases that answer listed, before any
	// filter; hasListing says whether a listing succeeded yet.
	listedCount int
	hasListing  bool
	// unsafeIDs are the ids of that answer that were left out because a
	// path would normalise them ("." and ".."), so they are warned about
	// once, not on every refresh.
	unsafeIDs []string
	// watched are the databases whose series are exported: the configured
	// ones, or the discovered ones that pass include and exclude.
	watched []*databaseState
	byID    map[string]*databaseState

	// up is the result of the account's latest finished refresh that
	// made a call: at least one call succeeded and none was refused (401
	// or 403). False until the first refresh ended. A refresh served
	// wholly from the cache makes no call and leaves it as it is.
	up bool
}

// databaseState is a watched database and the state its refreshes left.
type databaseState struct {
	id string
	// name, interval and retention are the configured name,
	// expected_interval and required_retention.
	name      string
	interval  time.Duration
	retention time.Duration

	stats    BackupStats
	hasStats bool
	// unreadable counts, by reason, the entries of the last successful
	// answer that could not be read as given; reasons without any are
	// left out.
	unreadable []unreadable
	// lastSuccess is when list-backup last answered; zero before that.
	lastSuccess time.Time
	// lastRead is the outcome of the latest finished list-backup read:
	// one that ended, or that the refresh's own deadline gave up; zero
	// while the first read has not finished. A read in flight changes it
	// not: collect_success shows the outcome of the latest finished read,
	// not whether this refresh has got to it yet. An answer served from the
	// cache is that of a read that finished and succeeded, so it leaves
	// lastRead as it is.
	lastRead readResult
}

// readResult is the outcome of a finished list-backup read.
type readResult struct{ finished, ok bool }

// retarget recomputes the watched databases from the configuration and the
// last listing, keeping the state of databases that stay. Caller holds mu
// (or owns a).
func (a *accountState) retarget() {
	byID := make(map[string]*databaseState, len(a.byID))
	watched := make([]*databaseState, 0, len(a.watched))
	keep := func(id string) *databaseState {
		d := a.byID[id]
		if d == nil {
			d = &databaseState{id: id}
		}
		byID[id] = d
		watched = append(watched, d)
		return d
	}
	if a.cfg.Discovers() {
		for _, id := range a.listed {
			if _, dup := byID[id]; !dup && a.cfg.Watches(a.listing[id].Name) && a.shard.Owns(id) {
				keep(id).retention = a.cfg.RequiredRetention
			}
		}
	} else {
		for _, dc := range a.cfg.Databases {
			if a.shard.Owns(dc.ID) {
				d := keep(dc.ID)
				d.name, d.interval = dc.Name, dc.ExpectedInterval
				d.retention = cmp.Or(dc.RequiredRetention, a.cfg.RequiredRetention)
			}
		}
	}
	a.byID, a.watched = byID, watched
}

// Shard selects the databases of one replica among Count, as
// kube-state-metrics shards objects: those whose FNV-1a hash of database_id
// modulo Count is Index. A database stays in its shard for as long as
// Count stays the same. The zero value selects every database.
type Shard struct{ Index, Count int }

// Owns reports whether the database of this id is read by the shard.
func (s Shard) Owns(id string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id)) // a hash.Hash never fails
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}
