package collector

import (
	"log/slog"
	"slices"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// listingFresh says whether the last listing, read less than ttl ago, can
// stand for this refresh's. Caller holds mu.
func (a *accountState) listingFresh(now time.Time, ttl time.Duration) bool {
	return ttl > 0 && a.hasListing && now.Sub(a.listedAt) < ttl
}

// unsafeID reports whether a database id would change meaning in a URL
// path: "." and ".." are resolved away by a normalising proxy, so the call
// would reach another endpoint. The client escapes every other character.
func unsafeID(id string) bool {
	return id == "." || id == ".."
}

// listingNews is what a new listing changed that deserves a log line,
// worked out under mu and logged outside it.
type listingNews struct {
	// emptied is set when the listing is empty and the previous one was
	// not (or there was none): before is how many that one listed, and
	// hadBefore whether there was one.
	emptied   bool
	before    int
	hadBefore bool
	// unsafe are the left-out ids not already left out last time.
	unsafe []string
}

// setListing keeps a successful list-databases answer, read at now, with
// the account's key removed from its label values, and says what changed. Empty ids, repeated ids and unsafe ids are left out.
// Caller holds mu.
func (a *accountState) setListing(databases []upstash.Database, now time.Time) listingNews {
	news := listingNews{before: a.listedCount, hadBefore: a.hasListing}
	news.emptied = len(databases) == 0 && (!a.hasListing || a.listedCount > 0)
	a.listedAt, a.listedCount, a.hasListing = now, len(databases), true
	a.listing = make(map[string]upstash.Database, len(databases))
	a.listed = make([]string, 0, len(databases))
	var unsafe []string
	for _, db := range databases {
		if unsafeID(db.ID) {
			if !slices.Contains(unsafe, db.ID) {
				unsafe = append(unsafe, db.ID)
				if !slices.Contains(a.unsafeIDs, db.ID) {
					news.unsafe = append(news.unsafe, db.ID)
				}
			}
			continue
		}
		if _, dup := a.listing[db.ID]; dup || db.ID == "" {
			continue
		}
		a.listing[db.ID] = db
		a.listed = append(a.listed, db.ID)
	}
	a.unsafeIDs = unsafe
	return news
}

// log writes the warnings of a new listing; log carries the account.
func (n *listingNews) log(log *slog.Logger) {
	if n.emptied {
		args := []any{}
		if n.hadBefore {
			args = append(args, "previously_listed", n.before)
		}
		log.Warn("Account lists no databases", args...)
	}
	for _, id := range n.unsafe {
		log.Warn("Database left out of discovery: a URL path would normalise its id away", "database_id", id)
	}
}
