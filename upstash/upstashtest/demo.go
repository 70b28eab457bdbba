package upstashtest

import (
	"strconv"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Credentials of the demo account. The demo's data is simulated: no Upstash
// account, database or backup stands behind it.
const (
	DemoEmail  = "demo@upstash-backup-exporter.invalid"
	DemoAPIKey = "demo-developer-api-key-simulated"
)

// Ids of the demo databases, one per situation the exporter must show.
const (
	// DemoHealthyDailyID ("orders"): a daily backup at 03:00 UTC, the last
	// 7 kept, each completing 5 minutes after it starts.
	DemoHealthyDailyID = "00000000-demo-4000-8000-000000000001"
	// DemoFailingID ("sessions"): daily at 02:30 UTC; every backup since
	// 36 hours before the server was made has failed, the older ones
	// completed. The last completed one is kept even when 7 newer failed.
	DemoFailingID = "00000000-demo-4000-8000-000000000002"
	// DemoStuckPendingID ("analytics"): daily at 01:00 UTC until a backup
	// that started at least 6 hours before the server was made, which stays
	// pending and blocks later ones.
	DemoStuckPendingID = "00000000-demo-4000-8000-000000000003"
	// DemoNeverBackedUpID ("scratch-cache"): daily backup off, no backups.
	DemoNeverBackedUpID = "00000000-demo-4000-8000-000000000004"
	// DemoHourlyID ("payments", plan pro): an hourly backup at every full
	// hour, the last 24 kept, each completing 2 minutes after it starts.
	DemoHourlyID = "00000000-demo-4000-8000-000000000005"
)

// Timing of the demo schedules.
const (
	demoDailyRetention  = 7
	demoHourlyRetention = 24
	demoDailyDuration   = 5 * time.Minute
	demoHourlyDuration  = 2 * time.Minute
	// demoFailingFor is how long before the server was made sessions
	// started failing: long enough for at least one failed backup at once.
	demoFailingFor = 36 * time.Hour
	// demoStuckFor is the least age of analytics' stuck backup at start.
	demoStuckFor = 6 * time.Hour
)

// demoSizeBase is the day from which demo backup sizes grow.
var demoSizeBase = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// WithDemoCast gives the server the demo cast, the demo credentials and a
// request log limited to the newest 256 calls, for the exporter's --demo
// mode. Options after it can change the credentials and the limit.
func WithDemoCast() Option {
	return func(o *options) {
		o.demo = true
		o.email, o.apiKey = DemoEmail, DemoAPIKey
		o.logLimit = 256
	}
}

// NewDemo returns a started Server with the demo cast (see WithDemoCast),
// reading time from clock (time.Now when nil). Backups are computed from
// the clock at each request, so they appear and complete as a real schedule
// would make them, and the same clock readings always give the same answers.
func NewDemo(clock func() time.Time) *Server {
	return NewServer(WithClock(clock), WithDemoCast())
}

// addDemoCast adds the demo databases. The failing and stuck databases
// started going wrong relative to the clock now, so they look the same
// however long after their fixed creation dates the demo runs.
func (s *Server) addDemoCast() {
	start := s.opts.clock().UTC()
	created := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 9, 0, 0, 0, time.UTC).Unix() }
	for _, db := range []Database{
		{ID: DemoHealthyDailyID, Name: "orders", Region: "us-east-1", PrimaryRegion: "us-east-1", Plan: "payg", CreationTime: created(2024, time.March, 4), DailyBackupEnabled: true},
		{ID: DemoFailingID, Name: "sessions", Region: "eu-west-1", PrimaryRegion: "eu-west-1", Plan: "payg", CreationTime: created(2024, time.May, 20), DailyBackupEnabled: true},
		{ID: DemoStuckPendingID, Name: "analytics", Region: "ap-southeast-1", PrimaryRegion: "ap-southeast-1", Plan: "paid", CreationTime: created(2024, time.July, 1), DailyBackupEnabled: true},
		{ID: DemoNeverBackedUpID, Name: "scratch-cache", Region: "global", PrimaryRegion: "us-central1", Plan: "free", CreationTime: created(2025, time.January, 13), DailyBackupEnabled: false},
		{ID: DemoHourlyID, Name: "payments", Region: "eu-central-1", PrimaryRegion: "eu-central-1", Plan: "pro", CreationTime: created(2024, time.February, 12), DailyBackupEnabled: true},
	} {
		s.AddDatabase(db)
	}
	s.SetBackupsFunc(DemoHealthyDailyID, demoHealthyDaily)
	failingSince := start.Add(-demoFailingFor)
	s.SetBackupsFunc(DemoFailingID, func(now time.Time) []Backup { return demoFailing(now, failingSince) })
	stuckAt := latestDaily(start.Add(-demoStuckFor), 1, 0)
	s.SetBackupsFunc(DemoStuckPendingID, func(now time.Time) []Backup { return demoStuckPending(now, stuckAt) })
	s.SetBackups(DemoNeverBackedUpID, nil)
	s.SetBackupsFunc(DemoHourlyID, demoHourly)
}

func demoHealthyDaily(now time.Time) []Backup {
	backups := make([]Backup, 0, demoDailyRetention)
	for t := latestDaily(now, 3, 0); len(backups) < demoDailyRetention; t = t.Add(-24 * time.Hour) {
		backups = append(backups, demoBackup(DemoHealthyDailyID, "orders", t, now, demoDailyDuration, upstash.StateCompleted, false))
	}
	return backups
}

func demoFailing(now, failingSince time.Time) []Backup {
	backups := make([]Backup, 0, demoDailyRetention+1)
	keptGood := false
	for t := latestDaily(now, 2, 30); ; t = t.Add(-24 * time.Hour) {
		final := upstash.StateCompleted
		if !t.Before(failingSince) {
			final = upstash.StateFailed
		}
		b := demoBackup(DemoFailingID, "sessions", t, now, demoDailyDuration, final, false)
		good := b.State == upstash.StateCompleted
		switch {
		case len(backups) < demoDailyRetention:
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

func demoStuckPending(now, stuckAt time.Time) []Backup {
	t := latestDaily(now, 1, 0)
	if t.After(stuckAt) {
		t = stuckAt
	}
	backups := make([]Backup, 0, demoDailyRetention)
	for ; len(backups) < demoDailyRetention; t = t.Add(-24 * time.Hour) {
		b := demoBackup(DemoStuckPendingID, "analytics", t, now, demoDailyDuration, upstash.StateCompleted, false)
		if t.Equal(stuckAt) {
			b.State, b.BackupSize = upstash.StatePending, 0
		}
		backups = append(backups, b)
	}
	return backups
}

func demoHourly(now time.Time) []Backup {
	backups := make([]Backup, 0, demoHourlyRetention)
	for t := now.UTC().Truncate(time.Hour); len(backups) < demoHourlyRetention; t = t.Add(-time.Hour) {
		backups = append(backups, demoBackup(DemoHourlyID, "payments", t, now, demoHourlyDuration, upstash.StateCompleted, true))
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

// demoBackup is a backup created at created that, seen at now, is pending
// for duration and then ends in state final. Only completed backups have a
// size, growing slowly with the creation time and varying a little by hour.
func demoBackup(databaseID, name string, created, now time.Time, duration time.Duration, final string, hourly bool) Backup {
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
		hours := max(int64(created.Sub(demoSizeBase)/time.Hour), 0)
		b.BackupSize = 48<<20 + hours*2<<10 + (hours*7919)%16<<10
	}
	return b
}
