package collector

import (
	"slices"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// TestChain: the restore window of a backup list, in every order of the
// list. Times are in hours after hour 0; the read is at hour 100 unless a
// case says otherwise.
func TestChain(t *testing.T) {
	t.Parallel()
	const (
		pending   = upstash.StatePending
		completed = upstash.StateCompleted
		failed    = upstash.StateFailed
	)
	h := func(hours int64) int64 { return hours * 3600 }
	at := func(hours int64, state string, size int64) upstash.Backup { return backup(h(hours), state, size) }
	now := time.Unix(h(100), 0)
	tests := []struct {
		name     string
		backups  []upstash.Backup
		settings Settings
		want     Chain
	}{
		{
			name:     "no backups: only the required retention",
			settings: Settings{RequiredRetention: 48 * time.Hour, Now: now},
			want:     Chain{RequiredRetention: 48 * time.Hour},
		},
		{
			name:     "one completed backup: no pair, no gap",
			backups:  []upstash.Backup{at(90, completed, 10)},
			settings: Settings{Now: now},
			want:     Chain{},
		},
		{
			name: "a missing day inside the window, while the latest is fresh",
			backups: []upstash.Backup{
				at(4, completed, 10), at(28, completed, 10), at(76, completed, 10), at(99, completed, 10),
			},
			settings: Settings{RequiredRetention: 96 * time.Hour, Now: now},
			want: Chain{RequiredRetention: 96 * time.Hour, InRetention: 4, LargestGap: 48 * time.Hour, LargestGapValid: true,
				MedianEarlierSize: 10, MedianEarlierSizeValid: true},
		},
		{
			name: "a gap that ends inside the window counts, one that ends before it does not",
			backups: []upstash.Backup{
				at(0, completed, 1), at(50, completed, 1), at(70, completed, 1), at(95, completed, 1),
			},
			// The window starts at hour 60: 50 -> 70 ends inside it (20h);
			// 0 -> 50 (50h) ends before it.
			settings: Settings{RequiredRetention: 40 * time.Hour, Now: now},
			want: Chain{RequiredRetention: 40 * time.Hour, InRetention: 2, LargestGap: 25 * time.Hour, LargestGapValid: true,
				MedianEarlierSize: 1, MedianEarlierSizeValid: true},
		},
		{
			name: "the time since the newest completed backup is not a gap of the chain",
			backups: []upstash.Backup{
				at(10, completed, 1), at(20, completed, 1),
			},
			settings: Settings{Now: now},
			want:     Chain{LargestGap: 10 * time.Hour, LargestGapValid: true},
		},
		{
			name: "no completed backup within the required retention: no pair, no gap",
			backups: []upstash.Backup{
				at(10, completed, 1), at(20, completed, 1),
			},
			settings: Settings{RequiredRetention: 24 * time.Hour, Now: now},
			want:     Chain{RequiredRetention: 24 * time.Hour},
		},
		{
			name: "a backup on the window's first second is inside it",
			backups: []upstash.Backup{
				at(60, completed, 1), at(90, completed, 1),
			},
			settings: Settings{RequiredRetention: 40 * time.Hour, Now: now},
			want:     Chain{RequiredRetention: 40 * time.Hour, InRetention: 2, LargestGap: 30 * time.Hour, LargestGapValid: true},
		},
		{
			name: "pending and failed backups between completed ones do not close a gap",
			backups: []upstash.Backup{
				at(10, completed, 5), at(30, failed, 0), at(40, pending, 0), at(60, completed, 5),
			},
			settings: Settings{Now: now},
			want:     Chain{LargestGap: 50 * time.Hour, LargestGapValid: true},
		},
		{
			name: "duplicate backups make no gap, and each counts in the median",
			backups: []upstash.Backup{
				at(70, completed, 8), at(70, completed, 8), at(80, completed, 6), at(90, completed, 4), at(99, completed, 1),
			},
			settings: Settings{Now: now},
			want:     Chain{LargestGap: 10 * time.Hour, LargestGapValid: true, MedianEarlierSize: 7, MedianEarlierSizeValid: true},
		},
		{
			name: "the median leaves out every backup of the newest time",
			backups: []upstash.Backup{
				at(60, completed, 100), at(70, completed, 110), at(80, completed, 120),
				at(90, completed, 1), at(90, completed, 2),
			},
			settings: Settings{Now: now},
			want:     Chain{LargestGap: 10 * time.Hour, LargestGapValid: true, MedianEarlierSize: 110, MedianEarlierSizeValid: true},
		},
		{
			name: "fewer than 3 earlier readable sizes: no median",
			backups: []upstash.Backup{
				at(60, completed, 100), sizeUnknown(at(70, completed, 0)), at(80, completed, 120), at(90, completed, 1),
			},
			settings: Settings{Now: now},
			want:     Chain{LargestGap: 10 * time.Hour, LargestGapValid: true},
		},
		{
			name:     "without the time of the read, no window",
			backups:  []upstash.Backup{at(10, completed, 1), at(20, completed, 1)},
			settings: Settings{RequiredRetention: time.Hour},
			want:     Chain{LargestGap: 10 * time.Hour, LargestGapValid: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orders := [][]upstash.Backup{tt.backups, slices.Clone(tt.backups)}
			slices.Reverse(orders[1])
			for i := 1; i < len(tt.backups); i++ {
				orders = append(orders, append(slices.Clone(tt.backups[i:]), tt.backups[:i]...))
			}
			for _, order := range orders {
				if got := ComputeStats(order, tt.settings).Chain; got != tt.want {
					t.Errorf("ComputeStats(%v).Chain\n got %+v\nwant %+v", order, got, tt.want)
				}
			}
		})
	}
}
