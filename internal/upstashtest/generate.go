package upstashtest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// GenerateBackups returns n completed daily backups of databaseID, newest
// first: the newest created at newest, each older one interval before the
// next. Sizes grow by 64 KiB a backup from 64 MiB for the oldest. The same
// arguments give the same backups, ids included.
func GenerateBackups(databaseID string, n int, newest time.Time, interval time.Duration) []Backup {
	backups := make([]Backup, 0, max(n, 0))
	for i := range n {
		created := newest.Add(-time.Duration(i) * interval).Unix()
		backups = append(backups, Backup{
			DatabaseID:   databaseID,
			Name:         "daily-backup-" + strconv.FormatInt(created, 10),
			BackupID:     BackupID(databaseID, created),
			CreationTime: created,
			State:        upstash.StateCompleted,
			BackupSize:   64<<20 + int64(n-1-i)*64<<10,
			DailyBackup:  "true",
			HourlyBackup: "false",
		})
	}
	return backups
}

// BackupID returns a UUID-shaped backup id, stable for a database and a
// creation time, so generated and demo backups keep their ids across
// requests.
func BackupID(databaseID string, creationTime int64) string {
	return demo.BackupID(databaseID, creationTime)
}

// GeneratedDatabaseID returns the id AddGeneratedDatabases gives its i-th
// database (from 0).
func GeneratedDatabaseID(i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
}

var (
	generatedRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-1", "us-west-2", "eu-central-1"}
	generatedPlans   = []string{"payg", "pro", "paid", "free"}
)

// AddGeneratedDatabases adds n databases, ids GeneratedDatabaseID(0..n-1),
// with daily backup enabled and backupsPerDatabase daily backups each (see
// GenerateBackups), the newest at the start of the clock's current hour.
// Regions and plans vary by index. It returns the ids. Meant for benchmarks:
// 5,000 databases of 100 backups encode in well under a few seconds.
func (s *Server) AddGeneratedDatabases(n, backupsPerDatabase int) []string {
	newest := s.opts.clock().Truncate(time.Hour)
	ids := make([]string, n)
	entries := make([]*databaseEntry, n)
	bodies := make([][]byte, n)
	for i := range n {
		id := GeneratedDatabaseID(i)
		ids[i] = id
		region := generatedRegions[i%len(generatedRegions)]
		entries[i] = s.newDatabaseEntry(Database{
			ID:                 id,
			Name:               fmt.Sprintf("generated-%05d", i),
			Region:             region,
			PrimaryRegion:      region,
			Plan:               generatedPlans[i%len(generatedPlans)],
			State:              "active",
			CreationTime:       newest.AddDate(-1, 0, 0).Unix(),
			DailyBackupEnabled: true,
		})
		// Encoded before taking the lock so requests are not held up.
		bodies[i] = demo.EncodeBackups(s.opts.email, GenerateBackups(id, backupsPerDatabase, newest, 24*time.Hour))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range entries {
		s.putDatabaseLocked(e)
		s.backups[ids[i]] = backupSource{body: bodies[i]}
	}
	return ids
}
