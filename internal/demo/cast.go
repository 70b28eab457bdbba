package demo

import (
	"strconv"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Credentials of the demo account. The demo's data is simulated: no Upstash
// account, database or backup stands behind it.
const (
	Email  = "demo@upstash-backup-exporter.invalid"
	APIKey = "demo-developer-api-key-simulated"
)

// Ids of the demo databases, one per situation the exporter must show.
const (
	// HealthyDailyID ("orders"): a daily backup at 03:00 UTC, the last 7
	// kept, each completing 5 minutes after it starts.
	HealthyDailyID = "00000000-demo-4000-8000-000000000001"
	// FailingID ("sessions"): daily at 02:30 UTC; every backup since 36
	// hours before the demo started has failed, the older ones completed.
	// The last completed one is kept even when 7 newer failed.
	FailingID = "00000000-demo-4000-8000-000000000002"
	// StuckPendingID ("analytics"): daily at 01:00 UTC until a backup that
	// started at least 6 hours before the demo started, which stays
	// pending and blocks later ones.
	StuckPendingID = "00000000-demo-4000-8000-000000000003"
	// NeverBackedUpID ("scratch-cache"): daily backup off, no backups.
	NeverBackedUpID = "00000000-demo-4000-8000-000000000004"
	// HourlyID ("payments", plan pro): an hourly backup at every full
	// hour, the last 24 kept, each completing 2 minutes after it starts.
	HourlyID = "00000000-demo-4000-8000-000000000005"
	// GapID ("inventory"): daily at 04:00 UTC, the last 7 kept, but the
	// backup of two days before the demo started is missing: a gap in
	// the chain while the latest backup is fine.
	GapID = "00000000-demo-4000-8000-000000000006"
	// ShrunkID ("search-index"): daily at 05:00 UTC, the last 7 kept; the
	// newest completed backup is a tenth of the size of the ones before.
	ShrunkID = "00000000-demo-4000-8000-000000000007"
)

// Timing of the demo schedules.
const (
	dailyRetention  = 7
	hourlyRetention = 24
	dailyDuration   = 5 * time.Minute
	hourlyDuration  = 2 * time.Minute
	// failingFor is how long before the start sessions started failing:
	// long enough for at least one failed backup at once.
	failingFor = 36 * time.Hour
	// stuckFor is the least age of analytics' stuck backup at the start.
	stuckFor = 6 * time.Hour
)

// sizeBase is the day from which demo backup sizes grow.
var sizeBase = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// Databases returns the demo databases in the order the account lists them.
func Databases() []upstash.Database {
	created := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 9, 0, 0, 0, time.UTC).Unix() }
	return []upstash.Database{
		{ID: HealthyDailyID, Name: "orders", Region: "us-east-1", PrimaryRegion: "us-east-1", Plan: "payg", State: "active", CreationTime: created(2024, time.March, 4), DailyBackupEnabled: true},
		{ID: FailingID, Name: "sessions", Region: "eu-west-1", PrimaryRegion: "eu-west-1", Plan: "payg", State: "active", CreationTime: created(2024, time.May, 20), DailyBackupEnabled: true},
		{ID: StuckPendingID, Name: "analytics", Region: "ap-southeast-1", PrimaryRegion: "ap-southeast-1", Plan: "paid", State: "active", CreationTime: created(2024, time.July, 1), DailyBackupEnabled: true},
		{ID: NeverBackedUpID, Name: "scratch-cache", Region: "global", PrimaryRegion: "us-central1", Plan: "free", State: "active", CreationTime: created(2025, time.January, 13), DailyBackupEnabled: false},
		{ID: HourlyID, Name: "payments", Region: "eu-central-1", PrimaryRegion: "eu-central-1", Plan: "pro", State: "active", CreationTime: created(2024, time.February, 12), DailyBackupEnabled: true},
		{ID: GapID, Name: "inventory", Region: "us-east-1", PrimaryRegion: "us-east-1", Plan: "payg", State: "active", CreationTime: created(2024, time.August, 5), DailyBackupEnabled: true},
		{ID: ShrunkID, Name: "search-index", Region: "eu-west-1", PrimaryRegion: "eu-west-1", Plan: "pro", State: "active", CreationTime: created(2024, time.September, 9), DailyBackupEnabled: true},
	}
}

// Cast holds what the demo's backups depend on besides the clock: when the
// demo started. The failing and stuck databases went wrong relative to it,
// so they look the same however long after their fixed creation dates the
// demo runs.
type Cast struct {
	failingSince time.Time
	stuckAt      time.Time
	missingDay   time.Time
}

// NewCast returns the cast of a demo started at start.
func NewCast(start time.Time) Cast {
	start = start.UTC()
	return Cast{
		failingSince: start.Add(-failingFor),
		stuckAt:      latestDaily(start.Add(-stuckFor), 1, 0),
		missingDay:   latestDaily(start.Add(-48*time.Hour), 4, 0),
	}
}

// Backups returns what list-backup lists for databaseID seen at now, newest
// first, as a real schedule would have made them: the same readings of the
// clock always give the same answers. ok is false for an id not in the cast.
func (c Cast) Backups(databaseID string, now time.Time) (backups []Backup, ok bool) {
	switch databaseID {
	case HealthyDailyID:
		return healthyDaily(now), true
	case FailingID:
		return failing(now, c.failingSince), true
	case StuckPendingID:
		return stuckPending(now, c.stuckAt), true
	case NeverBackedUpID:
		return nil, true
	case HourlyID:
		return hourly(now), true
	case GapID:
		return withGap(now, c.missingDay), true
	case ShrunkID:
		return shrunk(now), true
	}
	return nil, false
}

func healthyDaily(now time.Time) []Backup {
	backups := make([]Backup, 0, dailyRetention)
	for t := latestDaily(now, 3, 0); len(backups) < dailyRetention; t = t.Add(-24 * time.Hour) {
		backups = append(backups, backup(HealthyDailyID, "orders", t, now, dailyDuration, upstash.StateCompleted, false))
	}
	return backups
}

func failing(now, failingSince time.Time) []Backup {
	backups := make([]Backup, 0, dailyRetention+1)
	keptGood := false
	for t := latestDaily(now, 2, 30); ; t = t.Add(-24 * time.Hour) {
		final := upstash.StateCompleted
		if !t.Before(failingSince) {
			final = upstash.StateFailed
		}
		b := backup(FailingID, "sessions", t, now, dailyDuration, final, false)
		good := b.State == upstash.StateCompleted
		switch {
		case len(backups) < dailyRetention:
			backups = append(backups, b)
			keptGood = keptGood || good
		case keptGood:
			return backups
		case good:
			// Retention never removes the last good backup.
			return append(backups, b)
		}
	}
}

func stuckPending(now, stuckAt time.Time) []Backup {
	t := latestDaily(now, 1, 0)
	if t.After(stuckAt) {
		t = stuckAt
	}
	backups := make([]Backup, 0, dailyRetention)
	for ; len(backups) < dailyRetention; t = t.Add(-24 * time.Hour) {
		b := backup(StuckPendingID, "analytics", t, now, dailyDuration, upstash.StateCompleted, false)
		if t.Equal(stuckAt) {
			b.State, b.BackupSize = upstash.StatePending, 0
		}
		backups = append(backups, b)
	}
	return backups
}

func withGap(now, missingDay time.Time) []Backup {
	backups := make([]Backup, 0, dailyRetention)
	latest := latestDaily(now, 4, 0)
	for day := range dailyRetention {
		// Retention keeps 7 days: the missing one leaves 6 backups.
		if t := latest.AddDate(0, 0, -day); !t.Equal(missingDay) {
			backups = append(backups, backup(GapID, "inventory", t, now, dailyDuration, upstash.StateCompleted, false))
		}
	}
	return backups
}

func shrunk(now time.Time) []Backup {
	backups := make([]Backup, 0, dailyRetention)
	shrank := false
	for t := latestDaily(now, 5, 0); len(backups) < dailyRetention; t = t.Add(-24 * time.Hour) {
		b := backup(ShrunkID, "search-index", t, now, dailyDuration, upstash.StateCompleted, false)
		if b.State == upstash.StateCompleted && !shrank {
			b.BackupSize /= 10
			shrank = true
		}
		backups = append(backups, b)
	}
	return backups
}

func hourly(now time.Time) []Backup {
	backups := make([]Backup, 0, hourlyRetention)
	for t := now.UTC().Truncate(time.Hour); len(backups) < hourlyRetention; t = t.Add(-time.Hour) {
		backups = append(backups, backup(HourlyID, "payments", t, now, hourlyDuration, upstash.StateCompleted, true))
	}
	return backups
}

// latestDaily returns the latest hh:mm UTC at or before now.
func latestDaily(now time.Time, hour, minute int) time.Time {
	now = now.UTC()
	t := time.Date(now.Year(), now.Month(), now.Day(), hour, minute, 0, 0, time.UTC)
	if t.After(now) {
		t = t.AddDate(0, 0, -1)
	}
	return t
}

// backup is a backup created at created that, seen at now, is pending for
// duration and then ends in state final. Only completed backups have a
// size, growing slowly with the creation time and varying a little by hour.
func backup(databaseID, name string, created, now time.Time, duration time.Duration, final string, hourly bool) Backup {
	kind := "daily"
	if hourly {
		kind = "hourly"
	}
	b := Backup{
		DatabaseID:   databaseID,
		Name:         name + "-" + kind + "-" + created.UTC().Format("20060102-1504"),
		BackupID:     BackupID(databaseID, created.Unix()),
		CreationTime: created.Unix(),
		State:        final,
		DailyBackup:  strconv.FormatBool(!hourly),
		HourlyBackup: strconv.FormatBool(hourly),
	}
	if now.Sub(created) < duration {
		b.State = upstash.StatePending
	}
	if b.State == upstash.StateCompleted {
		hours := max(int64(created.Sub(sizeBase)/time.Hour), 0)
		b.BackupSize = 48<<20 + hours*2<<10 + (hours*7919)%16<<10
	}
	return b
}
