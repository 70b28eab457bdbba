package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// reasonOther is the reason label of a decode problem without a kind.
const reasonOther = "other"

// unreadable is a count of entries of one list-backup answer that could
// not be read as given, for one reason (an upstash.DecodeProblem kind).
type unreadable struct {
	reason string
	count  int
}

// countProblems counts the problems of an answer by kind, in the order of
// the kinds' names, leaving out kinds with no problem; it also says how
// many entries were left out.
func countProblems(problems []upstash.DecodeProblem) (counts []unreadable, skipped int) {
	by := map[string]int{}
	for _, p := range problems {
		kind := p.Kind
		if kind == "" {
			kind = reasonOther
		}
		by[kind]++
		if p.Skipped {
			skipped++
		}
	}
	for reason, n := range by {
		counts = append(counts, unreadable{reason, n})
	}
	slices.SortFunc(counts, func(a, b unreadable) int { return strings.Compare(a.reason, b.reason) })
	return counts, skipped
}

// refreshDatabase reads the backups of f's database and records the read's
// outcome, which it returns.
func (c *Collector) refreshDatabase(ctx context.Context, a *accountState, f fetch, log *slog.Logger) error {
	list, err := a.api.ListBackups(ctx, f.db.id)
	err = c.deadlineError(ctx, err)
	now := c.opts.Now()
	var sum BackupStats
	var counts []unreadable
	skipped := 0
	if err == nil {
		settings := f.settings
		settings.Now = now
		sum = ComputeStats(list.Backups, settings)
		counts, skipped = countProblems(list.Problems)
	}

	c.mu.Lock()
	d := f.db
	before, hadBackups := d.stats.Backups, d.hasStats
	d.finishRead(err == nil)
	if err == nil {
		d.stats, d.hasStats, d.lastSuccess, d.unreadable = sum, true, now, counts
	}
	c.mu.Unlock()

	if err != nil {
		log.Log(ctx, levelFor(err), "Listing backups failed", append([]any{"database_id", f.db.id}, errorArgs(err)...)...)
		return err
	}
	if hadBackups && before > 0 && sum.Backups == 0 {
		log.Warn("Backup list is empty, it listed backups before",
			"database_id", f.db.id, "previously_listed", before, "unreadable", len(list.Problems))
	}
	if len(list.Problems) > 0 {
		reasons := make([]string, len(counts))
		for i, u := range counts {
			reasons[i] = u.reason + "=" + strconv.Itoa(u.count)
		}
		log.Warn("Backup list had entries that could not be read as given",
			"database_id", f.db.id,
			"skipped", skipped,
			"altered", len(list.Problems)-skipped,
			"reasons", strings.Join(reasons, ","),
			"first_detail", list.Problems[0].Reason)
	}
	return nil
}

// deadlineError says, of a call that failed once the refresh's context
// ctx passed its deadline, that the refresh's own deadline cut it short.
func (c *Collector) deadlineError(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("refresh deadline of %s reached: %w", c.opts.RefreshTimeout, err)
	}
	return err
}

// fail records that the reads of fetches finished unread.
func (c *Collector) fail(fetches []fetch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fetches {
		f.db.finishRead(false)
	}
}

// finishRead records the outcome of a finished read of d. Caller holds mu.
func (d *databaseState) finishRead(ok bool) {
	d.lastRead = readResult{finished: true, ok: ok}
}
