package collector

import (
	"math"
	"strings"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Backup cadences that the flags on a backup or database imply.
const (
	hourlyInterval = time.Hour
	dailyInterval  = 24 * time.Hour
)

// StateUnknown is the state label under which backups in a state the
// Developer API does not document are counted.
const StateUnknown = "unknown"

// Settings are what ComputeStats needs to know about a database beyond its
// backup list.
type Settings struct {
	// ExpectedInterval is the configured expected_interval; 0 when not set.
	ExpectedInterval time.Duration
	// DailyBackupEnabled is the database's daily_backup_enabled, as last
	// read from list-databases.
	DailyBackupEnabled bool
	// RequiredRetention is the configured required_retention; 0 when not
	// set.
	RequiredRetention time.Duration
	// Now is when the list was read, the end of the required retention's
	// window. Zero counts every listed backup as within it.
	Now time.Time
}

// Timestamp is a creation_time that may be absent: Valid is false when no
// backup qualifies, which the metrics show as a missing series, never as 0.
type Timestamp struct {
	Unix  int64
	Valid bool
}

// BackupStats is what one database's backup list says, in the terms of the
// metric contract's "Backups" table.
type BackupStats struct {
	// Backups is the number of backups listed.
	Backups int
	// Per-state counts. Unknown counts every state other than pending,
	// completed and failed.
	Pending, Completed, Failed, Unknown int

	// Newest is the creation_time of the newest backup in any state.
	Newest Timestamp
	// LastCompleted and LastFailed are the newest completed and failed
	// backups; OldestPending and OldestCompleted the oldest of theirs.
	LastCompleted, LastFailed      Timestamp
	OldestPending, OldestCompleted Timestamp

	// LastCompletedSizeBytes is the backup_size of the newest completed
	// backup; meaningful only when LastCompleted.Valid and not
	// LastCompletedSizeUnknown.
	LastCompletedSizeBytes int64
	// LastCompletedSizeUnknown is true when the newest completed backup's
	// backup_size could not be read (upstash.Backup.SizeUnknown): the size
	// is then absent, never 0.
	LastCompletedSizeUnknown bool
	// RetainedSizeBytes sums backup_size over the completed backups whose
	// size could be read.
	RetainedSizeBytes int64

	// LatestState is the state of the newest backup: upstash.StatePending,
	// StateCompleted, StateFailed or StateUnknown; "" when there is none.
	LatestState string

	// ExpectedInterval is the cadence backups should arrive at; 0 means
	// absent (configured intervals are positive, derived ones are 1h or 24h).
	ExpectedInterval time.Duration

	// Chain is the restore window the completed backups give.
	Chain Chain
}

// stateRank orders states for ties on the newest creation_time: the more
// pessimistic state wins. The contract fixes failed > pending > completed; a
// state the API does not document is not known to be good, so it ranks
// below failed and pending and above completed.
func stateRank(state string) int {
	switch state {
	case upstash.StateFailed:
		return 4
	case upstash.StatePending:
		return 3
	case StateUnknown:
		return 2
	case upstash.StateCompleted:
		return 1
	}
	return 0
}

// knownState maps the API's state to one of the three documented states or
// StateUnknown. Case differences are tolerated; anything else is unknown.
func knownState(state string) string {
	switch state {
	case upstash.StatePending, upstash.StateCompleted, upstash.StateFailed:
		return state
	}
	for _, s := range [...]string{upstash.StatePending, upstash.StateCompleted, upstash.StateFailed} {
		if strings.EqualFold(state, s) {
			return s
		}
	}
	return StateUnknown
}

// ComputeStats computes a database's BackupStats from its backup list, in one pass
// and in any input order (list-backup's order is undefined). It does no I/O
// and reads no clock: Settings.Now is the time of the read.
//
// Where several completed backups share the newest creation_time, the
// smallest readable backup_size is reported, so the result does not depend
// on order; the size is unknown only when none of them has a readable one.
// A size that could not be read is never counted as 0.
func ComputeStats(backups []upstash.Backup, s Settings) BackupStats {
	sum := BackupStats{Backups: len(backups)}
	var hourly, daily bool
	completed := make([]completedBackup, 0, len(backups))
	for i := range backups {
		b := &backups[i]
		t := b.CreationTime
		hourly = hourly || b.HourlyBackup
		daily = daily || b.DailyBackup

		state := knownState(b.State)
		switch state {
		case upstash.StatePending:
			sum.Pending++
			if !sum.OldestPending.Valid || t < sum.OldestPending.Unix {
				sum.OldestPending = Timestamp{t, true}
			}
		case upstash.StateCompleted:
			sum.Completed++
			// Saturate: sizes come from the API, and a sum that wraps
			// would export a negative size.
			size := b.SizeBytes
			if b.SizeUnknown {
				size = 0
			} else {
				sum.RetainedSizeBytes = addSaturating(sum.RetainedSizeBytes, size)
			}
			switch {
			case !sum.LastCompleted.Valid || t > sum.LastCompleted.Unix:
				sum.LastCompleted = Timestamp{t, true}
				sum.LastCompletedSizeBytes, sum.LastCompletedSizeUnknown = size, b.SizeUnknown
			case t == sum.LastCompleted.Unix && !b.SizeUnknown &&
				(sum.LastCompletedSizeUnknown || size < sum.LastCompletedSizeBytes):
				sum.LastCompletedSizeBytes, sum.LastCompletedSizeUnknown = size, false
			}
			if !sum.OldestCompleted.Valid || t < sum.OldestCompleted.Unix {
				sum.OldestCompleted = Timestamp{t, true}
			}
			completed = append(completed, completedBackup{t, size, b.SizeUnknown})
		case upstash.StateFailed:
			sum.Failed++
			if !sum.LastFailed.Valid || t > sum.LastFailed.Unix {
				sum.LastFailed = Timestamp{t, true}
			}
		default:
			sum.Unknown++
		}

		switch {
		case !sum.Newest.Valid || t > sum.Newest.Unix:
			sum.Newest = Timestamp{t, true}
			sum.LatestState = state
		case t == sum.Newest.Unix && stateRank(state) > stateRank(sum.LatestState):
			sum.LatestState = state
		}
	}

	switch {
	case s.ExpectedInterval > 0:
		sum.ExpectedInterval = s.ExpectedInterval
	case hourly:
		sum.ExpectedInterval = hourlyInterval
	case s.DailyBackupEnabled || daily:
		sum.ExpectedInterval = dailyInterval
	}
	sum.Chain = computeChain(completed, s)
	return sum
}

// addSaturating adds a size to a sum of sizes, stopping at the largest
// int64 instead of wrapping.
func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
