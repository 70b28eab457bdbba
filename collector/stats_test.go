package collector

import (
	"slices"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

func backup(t int64, state string, size int64) upstash.Backup {
	return upstash.Backup{CreationTime: t, State: state, SizeBytes: size}
}

func hourly(b upstash.Backup) upstash.Backup { b.HourlyBackup = true; return b }
func daily(b upstash.Backup) upstash.Backup  { b.DailyBackup = true; return b }

// sizeUnknown is b as the decoder leaves an entry whose backup_size it
// could not read.
func sizeUnknown(b upstash.Backup) upstash.Backup {
	b.SizeBytes, b.SizeUnknown = 0, true
	return b
}

func ts(t int64) Timestamp { return Timestamp{Unix: t, Valid: true} }

func TestSummarize(t *testing.T) {
	t.Parallel()
	const (
		pending   = upstash.StatePending
		completed = upstash.StateCompleted
		failed    = upstash.StateFailed
	)
	tests := []struct {
		name     string
		backups  []upstash.Backup
		settings Settings
		want     BackupStats
	}{
		{
			name: "no backups: counts are zero, everything else absent",
			want: BackupStats{},
		},
		{
			name:     "no backups, daily backup enabled",
			settings: Settings{DailyBackupEnabled: true},
			want:     BackupStats{ExpectedInterval: 24 * time.Hour},
		},
		{
			name: "healthy daily database",
			backups: []upstash.Backup{
				daily(backup(300, completed, 30)),
				daily(backup(100, completed, 10)),
				daily(backup(200, completed, 20)),
			},
			want: BackupStats{
				Backups: 3, Completed: 3,
				Newest: ts(300), LastCompleted: ts(300), OldestCompleted: ts(100),
				LastCompletedSizeBytes: 30, RetainedSizeBytes: 60,
				LatestState: completed, ExpectedInterval: 24 * time.Hour,
			},
		},
		{
			name: "latest failed after completed ones",
			backups: []upstash.Backup{
				backup(100, completed, 10),
				backup(300, failed, 0),
				backup(200, failed, 0),
			},
			want: BackupStats{
				Backups: 3, Completed: 1, Failed: 2,
				Newest: ts(300), LastCompleted: ts(100), LastFailed: ts(300), OldestCompleted: ts(100),
				LastCompletedSizeBytes: 10, RetainedSizeBytes: 10, LatestState: failed,
			},
		},
		{
			name: "pending backups: the oldest is reported",
			backups: []upstash.Backup{
				backup(400, pending, 0),
				backup(200, pending, 0),
				backup(300, completed, 7),
			},
			want: BackupStats{
				Backups: 3, Pending: 2, Completed: 1,
				Newest: ts(400), LastCompleted: ts(300), OldestPending: ts(200), OldestCompleted: ts(300),
				LastCompletedSizeBytes: 7, RetainedSizeBytes: 7, LatestState: pending,
			},
		},
		{
			name: "tie on the newest time: failed beats pending and completed",
			backups: []upstash.Backup{
				backup(500, completed, 5),
				backup(500, failed, 0),
				backup(500, pending, 0),
			},
			want: BackupStats{
				Backups: 3, Pending: 1, Completed: 1, Failed: 1,
				Newest: ts(500), LastCompleted: ts(500), LastFailed: ts(500), OldestPending: ts(500), OldestCompleted: ts(500),
				LastCompletedSizeBytes: 5, RetainedSizeBytes: 5, LatestState: failed,
			},
		},
		{
			name: "tie on the newest time: pending beats completed",
			backups: []upstash.Backup{
				backup(500, completed, 5),
				backup(500, pending, 0),
			},
			want: BackupStats{
				Backups: 2, Pending: 1, Completed: 1,
				Newest: ts(500), LastCompleted: ts(500), OldestPending: ts(500), OldestCompleted: ts(500),
				LastCompletedSizeBytes: 5, RetainedSizeBytes: 5, LatestState: pending,
			},
		},
		{
			name: "tie on the newest time: unknown beats completed, not pending",
			backups: []upstash.Backup{
				backup(500, completed, 5),
				backup(500, "archived", 0),
				backup(400, pending, 0),
			},
			want: BackupStats{
				Backups: 3, Pending: 1, Completed: 1, Unknown: 1,
				Newest: ts(500), LastCompleted: ts(500), OldestPending: ts(400), OldestCompleted: ts(500),
				LastCompletedSizeBytes: 5, RetainedSizeBytes: 5, LatestState: StateUnknown,
			},
		},
		{
			name: "tie between completed backups: the smaller size is reported",
			backups: []upstash.Backup{
				backup(500, completed, 9),
				backup(500, completed, 4),
			},
			want: BackupStats{
				Backups: 2, Completed: 2,
				Newest: ts(500), LastCompleted: ts(500), OldestCompleted: ts(500),
				LastCompletedSizeBytes: 4, RetainedSizeBytes: 13, LatestState: completed,
			},
		},
		{
			name: "unreadable sizes are absent, never 0: the newest completed size is unknown",
			backups: []upstash.Backup{
				sizeUnknown(backup(500, completed, 0)),
				backup(400, completed, 7),
				sizeUnknown(backup(300, completed, 0)),
			},
			want: BackupStats{
				Backups: 3, Completed: 3,
				Newest: ts(500), LastCompleted: ts(500), OldestCompleted: ts(300),
				LastCompletedSizeUnknown: true, RetainedSizeBytes: 7, LatestState: completed,
			},
		},
		{
			name: "tie between completed backups: a readable size beats an unreadable one",
			backups: []upstash.Backup{
				sizeUnknown(backup(500, completed, 0)),
				backup(500, completed, 9),
				sizeUnknown(backup(500, completed, 0)),
			},
			want: BackupStats{
				Backups: 3, Completed: 3,
				Newest: ts(500), LastCompleted: ts(500), OldestCompleted: ts(500),
				LastCompletedSizeBytes: 9, RetainedSizeBytes: 9, LatestState: completed,
			},
		},
		{
			name: "unreadable sizes of other states change nothing",
			backups: []upstash.Backup{
				sizeUnknown(backup(500, failed, 0)),
				backup(400, completed, 3),
			},
			want: BackupStats{
				Backups: 2, Completed: 1, Failed: 1,
				Newest: ts(500), LastCompleted: ts(400), LastFailed: ts(500), OldestCompleted: ts(400),
				LastCompletedSizeBytes: 3, RetainedSizeBytes: 3, LatestState: failed,
			},
		},
		{
			name: "unknown states are counted apart and do not set times",
			backups: []upstash.Backup{
				backup(100, "", 0),
				backup(200, "deleting", 3),
			},
			want: BackupStats{Backups: 2, Unknown: 2, Newest: ts(200), LatestState: StateUnknown},
		},
		{
			name: "state case is tolerated",
			backups: []upstash.Backup{
				backup(100, "Completed", 3),
				backup(200, "FAILED", 0),
			},
			want: BackupStats{
				Backups: 2, Completed: 1, Failed: 1,
				Newest: ts(200), LastCompleted: ts(100), LastFailed: ts(200), OldestCompleted: ts(100),
				LastCompletedSizeBytes: 3, RetainedSizeBytes: 3, LatestState: failed,
			},
		},
		{
			name: "zero creation time and size are values, not absence",
			backups: []upstash.Backup{
				backup(0, completed, 0),
			},
			want: BackupStats{
				Backups: 1, Completed: 1,
				Newest: ts(0), LastCompleted: ts(0), OldestCompleted: ts(0),
				LatestState: completed,
			},
		},
		{
			name:     "hourly backup beats daily flags",
			backups:  []upstash.Backup{hourly(backup(100, completed, 1)), daily(backup(50, completed, 1))},
			settings: Settings{DailyBackupEnabled: true},
			want: BackupStats{
				Backups: 2, Completed: 2,
				Newest: ts(100), LastCompleted: ts(100), OldestCompleted: ts(50),
				LastCompletedSizeBytes: 1, RetainedSizeBytes: 2, LatestState: completed,
				ExpectedInterval: time.Hour,
			},
		},
		{
			name:    "daily backup flag without daily backup enabled",
			backups: []upstash.Backup{daily(backup(100, failed, 0))},
			want: BackupStats{
				Backups: 1, Failed: 1, Newest: ts(100), LastFailed: ts(100),
				LatestState: failed, ExpectedInterval: 24 * time.Hour,
			},
		},
		{
			name:     "configured interval beats hourly backups",
			backups:  []upstash.Backup{hourly(backup(100, failed, 0))},
			settings: Settings{ExpectedInterval: 6 * time.Hour, DailyBackupEnabled: true},
			want: BackupStats{
				Backups: 1, Failed: 1, Newest: ts(100), LastFailed: ts(100),
				LatestState: failed, ExpectedInterval: 6 * time.Hour,
			},
		},
		{
			name:     "configured interval without backups",
			settings: Settings{ExpectedInterval: 12 * time.Hour},
			want:     BackupStats{ExpectedInterval: 12 * time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The answer's order is undefined: every rotation and the
			// reversed list must give the same summary.
			orders := [][]upstash.Backup{tt.backups, slices.Clone(tt.backups)}
			slices.Reverse(orders[1])
			for i := 1; i < len(tt.backups); i++ {
				orders = append(orders, append(slices.Clone(tt.backups[i:]), tt.backups[:i]...))
			}
			for _, order := range orders {
				// The chain has its own test: TestChain.
				got := ComputeStats(order, tt.settings)
				got.Chain = Chain{}
				if got != tt.want {
					t.Errorf("ComputeStats(%v)\n got %+v\nwant %+v", order, got, tt.want)
				}
			}
		})
	}
}

func BenchmarkSummarize(b *testing.B) {
	backups := make([]upstash.Backup, 100)
	states := []string{upstash.StateCompleted, upstash.StateCompleted, upstash.StateFailed, upstash.StatePending, "odd"}
	for i := range backups {
		// Scrambled creation times, as the API's order is undefined.
		backups[i] = daily(backup(int64((i*37)%100)*86400, states[i%len(states)], int64(i)<<20))
	}
	b.ReportAllocs()
	for b.Loop() {
		ComputeStats(backups, Settings{DailyBackupEnabled: true})
	}
}
