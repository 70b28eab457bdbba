package collector

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// FuzzComputeStats checks ComputeStats's invariants on any backup list the
// decoder can produce (positive creation times, sizes not negative, any
// state): counts add up, the reported times are the extremes of their
// states, sizes never go negative, and the order of the list does not
// matter.
func FuzzComputeStats(f *testing.F) {
	seed := func(interval int64, daily bool, backups ...upstash.Backup) {
		f.Add(encodeFuzzBackups(backups), interval, daily)
	}
	seed(0, false)
	seed(0, true, at(time.Hour, completed, 10))
	seed(int64(6*time.Hour), false, at(time.Hour, failed, 0), at(time.Hour, completed, 5), at(time.Hour, pending, 0), at(time.Hour, "archived", 1))
	seed(0, false, hourly(at(time.Hour, completed, math.MaxInt64)), daily(at(2*time.Hour, completed, math.MaxInt64)), at(3*time.Hour, completed, 1))
	seed(-1, true, at(0, "COMPLETED", 3), at(48*time.Hour, "", 0), at(24*time.Hour, pending, 0), at(12*time.Hour, pending, 0))

	f.Fuzz(func(t *testing.T, data []byte, interval int64, dailyEnabled bool) {
		backups := decodeFuzzBackups(data)
		s := Settings{ExpectedInterval: time.Duration(interval), DailyBackupEnabled: dailyEnabled, Now: t0}
		if s.ExpectedInterval < 0 {
			s.ExpectedInterval = 0 // configuration rejects non-positive intervals
		}
		// A required retention of a few intervals, as an operator would set.
		s.RequiredRetention = 3 * s.ExpectedInterval
		sum := ComputeStats(backups, s)
		checkStats(t, backups, s, sum)

		reversed := slices.Clone(backups)
		slices.Reverse(reversed)
		if got := ComputeStats(reversed, s); got != sum {
			t.Errorf("order matters:\n%+v\n%+v", sum, got)
		}
		if len(backups) > 1 {
			rotated := append(slices.Clone(backups[1:]), backups[0])
			if got := ComputeStats(rotated, s); got != sum {
				t.Errorf("order matters:\n%+v\n%+v", sum, got)
			}
		}
	})
}

func checkStats(t *testing.T, backups []upstash.Backup, s Settings, sum BackupStats) {
	t.Helper()
	if sum.Backups != len(backups) || sum.Pending+sum.Completed+sum.Failed+sum.Unknown != len(backups) {
		t.Fatalf("counts %+v do not add up to %d backups", sum, len(backups))
	}
	if sum.Newest.Valid != (len(backups) > 0) || (sum.LatestState == "") != (len(backups) == 0) {
		t.Errorf("newest %+v, latest state %q for %d backups", sum.Newest, sum.LatestState, len(backups))
	}
	if sum.RetainedSizeBytes < 0 || sum.LastCompletedSizeBytes < 0 || sum.LastCompletedSizeBytes > sum.RetainedSizeBytes {
		t.Errorf("sizes: retained %d, last completed %d", sum.RetainedSizeBytes, sum.LastCompletedSizeBytes)
	}

	// Each timestamp is the extreme of its state; recompute them.
	var newest, lastCompleted, lastFailed, oldestPending, oldestCompleted Timestamp
	latest := 0
	for _, b := range backups {
		state := knownState(b.State)
		newest = extreme(newest, b.CreationTime, true)
		switch state {
		case upstash.StateCompleted:
			lastCompleted = extreme(lastCompleted, b.CreationTime, true)
			oldestCompleted = extreme(oldestCompleted, b.CreationTime, false)
		case upstash.StateFailed:
			lastFailed = extreme(lastFailed, b.CreationTime, true)
		case upstash.StatePending:
			oldestPending = extreme(oldestPending, b.CreationTime, false)
		}
	}
	for _, b := range backups {
		if b.CreationTime == newest.Unix {
			latest = max(latest, stateRank(knownState(b.State)))
		}
	}
	for name, c := range map[string][2]Timestamp{
		"newest":           {newest, sum.Newest},
		"last completed":   {lastCompleted, sum.LastCompleted},
		"last failed":      {lastFailed, sum.LastFailed},
		"oldest pending":   {oldestPending, sum.OldestPending},
		"oldest completed": {oldestCompleted, sum.OldestCompleted},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: got %+v, want %+v", name, c[1], c[0])
		}
	}
	if len(backups) > 0 && stateRank(sum.LatestState) != latest {
		t.Errorf("latest state %q, want the state of rank %d", sum.LatestState, latest)
	}
	// The newest completed size is unknown only when no completed backup of
	// that time has a readable size, and an unknown size is never a value.
	unknown := lastCompleted.Valid
	for _, b := range backups {
		if knownState(b.State) == upstash.StateCompleted && b.CreationTime == lastCompleted.Unix && !b.SizeUnknown {
			unknown = false
		}
	}
	if sum.LastCompletedSizeUnknown != unknown || (unknown && sum.LastCompletedSizeBytes != 0) {
		t.Errorf("last completed size unknown %v (%d), want unknown %v", sum.LastCompletedSizeUnknown, sum.LastCompletedSizeBytes, unknown)
	}

	// The chain: counts within the completed ones, a gap no longer than
	// the span of the completed backups, a median among their sizes.
	c := sum.Chain
	if c.InRetention < 0 || c.InRetention > sum.Completed || c.LargestGap < 0 ||
		c.LargestGapValid && !sum.OldestCompleted.Valid ||
		c.LargestGapValid && c.LargestGap > span(sum.OldestCompleted.Unix, sum.LastCompleted.Unix) {
		t.Errorf("chain %+v for completed %d from %+v to %+v", c, sum.Completed, sum.OldestCompleted, sum.LastCompleted)
	}
	if c.MedianEarlierSizeValid {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, b := range backups {
			if knownState(b.State) == upstash.StateCompleted && !b.SizeUnknown && b.CreationTime < sum.LastCompleted.Unix {
				lo, hi = min(lo, b.SizeBytes), max(hi, b.SizeBytes)
			}
		}
		if c.MedianEarlierSize < lo || c.MedianEarlierSize > hi {
			t.Errorf("median earlier size %d outside [%d, %d]", c.MedianEarlierSize, lo, hi)
		}
	}

	switch {
	case s.ExpectedInterval > 0:
		if sum.ExpectedInterval != s.ExpectedInterval {
			t.Errorf("expected interval %s, configured %s", sum.ExpectedInterval, s.ExpectedInterval)
		}
	case sum.ExpectedInterval != 0 && sum.ExpectedInterval != time.Hour && sum.ExpectedInterval != 24*time.Hour:
		t.Errorf("derived expected interval %s", sum.ExpectedInterval)
	}
}

func extreme(ts Timestamp, t int64, newest bool) Timestamp {
	if !ts.Valid || (newest && t > ts.Unix) || (!newest && t < ts.Unix) {
		return Timestamp{t, true}
	}
	return ts
}

// fuzzStates are what a state byte picks: the documented states, their
// drift, and states the API does not document.
var fuzzStates = []string{upstash.StatePending, upstash.StateCompleted, upstash.StateFailed, "", "COMPLETED", "Failed", "archived", "restoring"}

// A fuzzed backup is 18 bytes: state, flags, creation_time, backup_size.
const fuzzBackupSize = 18

func decodeFuzzBackups(data []byte) []upstash.Backup {
	var backups []upstash.Backup
	for ; len(data) >= fuzzBackupSize; data = data[fuzzBackupSize:] {
		created := int64(binary.LittleEndian.Uint64(data[2:]) & math.MaxInt64)
		size := int64(binary.LittleEndian.Uint64(data[10:]) & math.MaxInt64)
		backups = append(backups, upstash.Backup{
			State:        fuzzStates[int(data[0])%len(fuzzStates)],
			DailyBackup:  data[1]&1 != 0,
			HourlyBackup: data[1]&2 != 0,
			SizeUnknown:  data[1]&4 != 0,
			CreationTime: max(created, 1), // the decoder skips times that are not positive
			SizeBytes:    size,
		})
	}
	return backups
}

func encodeFuzzBackups(backups []upstash.Backup) []byte {
	var data []byte
	for _, b := range backups {
		state := byte(slices.Index(fuzzStates, b.State))
		if !slices.Contains(fuzzStates, b.State) {
			state = byte(len(fuzzStates) - 1)
		}
		var flags byte
		if b.DailyBackup {
			flags |= 1
		}
		if b.HourlyBackup {
			flags |= 2
		}
		if b.SizeUnknown {
			flags |= 4
		}
		data = append(data, state, flags)
		data = binary.LittleEndian.AppendUint64(data, uint64(b.CreationTime))
		data = binary.LittleEndian.AppendUint64(data, uint64(b.SizeBytes))
	}
	return data
}
