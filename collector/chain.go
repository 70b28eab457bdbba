package collector

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// minEarlierSizes is how many completed backups before the newest must have
// a readable size for their median to be exported: fewer say little about
// what a normal backup weighs.
const minEarlierSizes = 3

// Chain is what the completed backups say of the points in time a restore
// can reach.
type Chain struct {
	// RequiredRetention is Settings.RequiredRetention; InRetention counts
	// the completed backups created within it before Settings.Now.
	RequiredRetention time.Duration
	InRetention       int
	// LargestGap is the longest time between consecutive completed
	// backups, counting the pairs whose later backup is within the
	// required retention (every pair when none is set). Valid when there is
	// such a pair. The time since the newest completed backup is not in
	// it: that grows between reads, and a rule adds it from
	// upstash_redis_backup_last_completed_timestamp_seconds.
	LargestGap      time.Duration
	LargestGapValid bool
	// MedianEarlierSize is the median backup_size of the completed backups
	// created before the newest, when at least minEarlierSizes of them have
	// a readable size.
	MedianEarlierSize      int64
	MedianEarlierSizeValid bool
}

// completedBackup is what the chain needs of a completed backup.
type completedBackup struct {
	unix        int64
	size        int64
	sizeUnknown bool
}

// computeChain reads the Chain of the completed backups, in any order: how
// many fall within the required retention, the largest gap between them,
// and the median size of the backups before the newest.
func computeChain(completed []completedBackup, s Settings) Chain {
	var c Chain
	if s.RequiredRetention > 0 && !s.Now.IsZero() {
		c.RequiredRetention = s.RequiredRetention
	}
	if len(completed) == 0 {
		return c
	}
	slices.SortFunc(completed, func(a, b completedBackup) int { return cmp.Compare(a.unix, b.unix) })
	newest := completed[len(completed)-1].unix

	// The window starts a required retention before the read; without
	// one, or without the time of the read, every listed backup counts.
	start := int64(minUnix)
	if c.RequiredRetention > 0 {
		start = s.Now.Add(-c.RequiredRetention).Unix()
	}
	for i, b := range completed {
		if b.unix < start {
			continue
		}
		c.InRetention++
		if i > 0 {
			c.LargestGap, c.LargestGapValid = max(c.LargestGap, span(completed[i-1].unix, b.unix)), true
		}
	}
	if c.RequiredRetention == 0 {
		c.InRetention = 0
	}

	// The backups before the newest: every one created before its
	// creation_time, so that ties at the newest do not depend on order.
	sizes := make([]int64, 0, len(completed))
	for _, b := range completed {
		if b.unix < newest && !b.sizeUnknown {
			sizes = append(sizes, b.size)
		}
	}
	if len(sizes) >= minEarlierSizes {
		slices.Sort(sizes)
		mid := len(sizes) / 2
		c.MedianEarlierSize, c.MedianEarlierSizeValid = sizes[mid], true
		if len(sizes)%2 == 0 {
			// The mean of the two middle sizes, without overflow.
			a, b := sizes[mid-1], sizes[mid]
			c.MedianEarlierSize = a + (b-a)/2
		}
	}
	return c
}

// minUnix is before any creation_time.
const minUnix = -1 << 63

// span is the time from a to b (a <= b, Unix seconds), saturating at the
// longest time.Duration: times come from the API.
func span(a, b int64) time.Duration {
	const most = int64(math.MaxInt64 / int64(time.Second))
	d := b - a
	if d < 0 || d > most { // wrapped, or too long for a Duration
		d = most
	}
	return time.Duration(d) * time.Second
}
