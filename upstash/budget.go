package upstash

import (
	"fmt"
	"sync/atomic"
)

// freeEntries entries of every answer are held without counting against
// the client's budget, so an ordinary database never fails because of
// another one's huge answer.
const freeEntries = 1024

// defaultEntriesInFlight is a client's budget of entries (backups and
// problems) held by the answers being decoded at once, past the free ones
// of each: about 100 bytes each, some 25 MiB.
const defaultEntriesInFlight = 250_000

// entryBudget counts the entries held by a client's answers in flight.
type entryBudget struct {
	limit int64
	used  atomic.Int64
}

func (b *entryBudget) reserve() bool {
	if b.used.Add(1) > b.limit {
		b.used.Add(-1)
		return false
	}
	return true
}

// budgetError fails an answer that would take the client's budget past
// its limit.
type budgetError struct{ limit int64 }

func (e *budgetError) Error() string {
	return fmt.Sprintf("answers in flight hold more than %d backups; this answer is not read further", e.limit)
}

// hold counts one more entry (a backup or a problem) kept by this answer,
// reserving it from the client's budget past the free ones.
func (d *backupDecoder) hold() error {
	d.held++
	if d.budget == nil || d.held <= freeEntries {
		return nil
	}
	if !d.budget.reserve() {
		return &budgetError{limit: d.budget.limit}
	}
	d.reserved++
	return nil
}

// release returns what this answer reserved: once decoded, its backups
// belong to the caller.
func (d *backupDecoder) release() {
	if d.reserved > 0 {
		d.budget.used.Add(-d.reserved)
		d.reserved = 0
	}
}
