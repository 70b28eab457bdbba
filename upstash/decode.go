package upstash

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Decoding policy. The API's answers drift (see the project README,
// "Failure modes"), so one entry that cannot be used never costs the rest of
// the answer:
//   - an answer that is not a JSON array (an object, a string, HTML,
//     truncated JSON) is rejected whole; `null` is an empty list;
//   - an entry larger than maxEntryBytes is skipped unread (too_large);
//   - an entry that is not an object is skipped (not_object);
//   - an entry whose database_id names another database than the one asked
//     about is skipped (other_database);
//   - an entry whose creation_time is missing, unreadable or not positive
//     (creation_time), or more than a day in the future
//     (future_creation_time), is skipped: it cannot be placed in time, and
//     a future one would hide staleness;
//   - creation_time above 1e11 is read as milliseconds (year 5138 in
//     seconds) and converted;
//   - numbers may come as JSON numbers (fractions truncated) or numeric
//     strings; flags as booleans or "true"/"false" strings;
//   - a negative, non-numeric or too large (>= 2^63) backup_size is kept
//     with SizeUnknown set and reported (backup_size); an absent or null
//     one reads as 0, as the API's own example of a pending backup sends;
//   - a missing state is kept as "" (counted as an unknown state);
//   - a backup_id listed twice keeps the entry with the newest
//     creation_time, on a tie the one in the worst state (failed, pending,
//     any other, completed); the other is skipped (duplicate).
const (
	millisecondsAbove = 1e11
	maxFutureSkew     = 24 * time.Hour
	// maxStateBytes bounds a state kept verbatim: a longer one can only be
	// an unknown state, and is kept as "unknown".
	maxStateBytes = 64
	// maxInternedStates bounds the distinct unknown states one answer
	// shares between its backups.
	maxInternedStates = 32
	// usualBackups is room made at once for the backups of an answer:
	// most databases list a few dozen at most, so the list is not grown
	// entry after entry.
	usualBackups = 32
)

// DecodeBackups reads a whole list-backup answer held in memory, without
// a budget and without checking database_id. now is used only to skip
// backups dated more than a day ahead of it. The client reads answers as
// a stream (decodeBackupStream); this is the same decoder over a byte
// slice.
func DecodeBackups(body []byte, now time.Time) (BackupList, error) {
	return decodeBackupStream(bytes.NewReader(body), now, "", nil)
}

// decodeBackupStream reads a list-backup answer from r, one entry at a
// time: memory is a small constant (a read buffer, one entry of at most
// maxEntryBytes) plus what the returned list keeps. databaseID, when not
// empty, is the database asked about: entries naming another are skipped.
// budget, when not nil, bounds the entries held by every answer in flight;
// the first freeEntries of each answer are not counted.
func decodeBackupStream(r io.Reader, now time.Time, databaseID string, budget *entryBudget) (BackupList, error) {
	d := backupDecoder{
		list:     BackupList{Backups: make([]Backup, 0, usualBackups)},
		latest:   now.Add(maxFutureSkew).Unix(),
		database: databaseID,
		budget:   budget,
		seed:     maphash.MakeSeed(),
	}
	defer d.release()
	defer d.done()
	if err := walkArray(r, d.entry); err != nil {
		return BackupList{}, err
	}
	d.finish()
	return d.list, nil
}

// backupDecoder turns entries into Backups under the policy above.
type backupDecoder struct {
	list     BackupList
	latest   int64
	database string
	// wire decodes entries; it comes from a pool and goes back to it
	// after the answer, unless the syntax of an entry broke it.
	wire *wireDecoder

	// seen maps the hash of a backup_id to where its kept entry is:
	// slot in list.Backups << 32 | index of the entry in the answer. Ids
	// are not kept: two ids with the same 64-bit hash would be taken for
	// one, a chance of about 2e-9 for 250,000 ids.
	seed maphash.Seed
	seen map[uint64]uint64 // from seenMaps
	// states shares the unknown states between backups.
	states map[string]string
	// untidy is set when problems may be out of order or two may name
	// one entry (see finish).
	untidy bool

	budget   *entryBudget
	held     int
	reserved int64
}

// entry handles the i-th element of the array; elem is nil when it was
// larger than maxEntryBytes.
func (d *backupDecoder) entry(i int, elem []byte) error {
	if elem == nil {
		return d.problem(i, true, ProblemTooLarge, fmt.Sprintf("entry is larger than %d KiB; not read", maxEntryBytes>>10))
	}
	if d.wire == nil {
		d.wire = wireDecoders.Get().(*wireDecoder)
	}
	w, err := d.wire.decode(elem)
	if err != nil {
		if _, syntax := errors.AsType[*json.SyntaxError](err); syntax {
			return fmt.Errorf("invalid JSON array: entry %d: %s", i, shortJSONError(err))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// The entry ends inside a literal: walkArray cut it there.
			return fmt.Errorf("invalid JSON array: entry %d: unexpected end of JSON input", i)
		}
		if runOn, ok := errors.AsType[*runOnError](err); ok {
			return fmt.Errorf("invalid JSON array: entry %d: %s", i, runOn.Error())
		}
		return d.problem(i, true, ProblemNotObject, "entry is not a backup object: "+shortJSONError(err))
	}
	return d.add(i, w)
}

// seenMaps holds emptied maps of ids: a new map costs an answer of a few
// dozen backups more than decoding them.
var seenMaps = sync.Pool{New: func() any { return make(map[uint64]uint64) }}

// maxPooledIDs bounds the ids a map put back in seenMaps held: clearing
// it keeps its room.
const maxPooledIDs = 1024

// done returns d's wire decoder to the pool, unless it is broken, and its
// map of ids, unless it grew large.
func (d *backupDecoder) done() {
	if d.wire != nil && !d.wire.broken {
		d.wire.w.reset()
		wireDecoders.Put(d.wire)
	}
	d.wire = nil
	if d.seen != nil && len(d.seen) <= maxPooledIDs {
		clear(d.seen)
		seenMaps.Put(d.seen)
	}
	d.seen = nil
}

func (d *backupDecoder) add(i int, w *wireBackup) error {
	if len(w.DatabaseID) > 0 && d.database != "" && string(w.DatabaseID) != d.database {
		return d.problem(i, true, ProblemOtherDatabase, "database_id "+quoteShort(string(w.DatabaseID))+" names another database")
	}
	ts, err := parseTimestamp(w.CreationTime)
	if err != nil {
		return d.problem(i, true, ProblemCreationTime, "creation_time: "+err.Error())
	}
	if ts > d.latest {
		return d.problem(i, true, ProblemFuture, fmt.Sprintf("creation_time %d is more than %s in the future", ts, maxFutureSkew))
	}
	b := Backup{
		CreationTime: ts,
		State:        d.state(w.State),
		DailyBackup:  parseFlag(w.DailyBackup),
		HourlyBackup: parseFlag(w.HourlyBackup),
	}
	switch size, err := parseNumber(w.BackupSize); {
	case errors.Is(err, errMissing):
	case err != nil:
		b.SizeUnknown = true
		if err := d.problem(i, false, ProblemBackupSize, "backup_size: "+err.Error()+"; size unknown"); err != nil {
			return err
		}
	case size < 0:
		b.SizeUnknown = true
		if err := d.problem(i, false, ProblemBackupSize, fmt.Sprintf("backup_size %d is negative; size unknown", size)); err != nil {
			return err
		}
	default:
		b.SizeBytes = size
	}
	if len(w.BackupID) > 0 {
		if d.seen == nil {
			d.seen = seenMaps.Get().(map[uint64]uint64)
		}
		h := maphash.Bytes(d.seed, w.BackupID)
		if at, dup := d.seen[h]; dup {
			slot, first := at>>32, int(uint32(at))
			kept := &d.list.Backups[slot]
			reason := "backup_id " + quoteShort(string(w.BackupID)) + " listed again"
			d.untidy = true
			if !replaces(b, *kept) {
				return d.problem(i, true, ProblemDuplicate, fmt.Sprintf("%s; entry %d is newer or in a worse state", reason, first))
			}
			*kept = b
			d.seen[h] = slot<<32 | uint64(i)
			return d.problem(first, true, ProblemDuplicate, fmt.Sprintf("%s; entry %d is newer or in a worse state", reason, i))
		}
		d.seen[h] = uint64(len(d.list.Backups))<<32 | uint64(i)
	}
	if err := d.hold(); err != nil {
		return err
	}
	d.list.Backups = append(d.list.Backups, b)
	return nil
}

func (d *backupDecoder) problem(i int, skipped bool, kind, reason string) error {
	if n := len(d.list.Problems); n > 0 && d.list.Problems[n-1].Index > i {
		d.untidy = true
	}
	if err := d.hold(); err != nil {
		return err
	}
	d.list.Problems = append(d.list.Problems, DecodeProblem{Index: i, Skipped: skipped, Kind: kind, Reason: reason})
	return nil
}

// finish puts the problems in the order of the entries, and leaves one
// problem for an entry skipped as a duplicate after its size was found
// unreadable: it is not kept, so its size no longer matters.
func (d *backupDecoder) finish() {
	if !d.untidy {
		return
	}
	ps := d.list.Problems
	slices.SortStableFunc(ps, func(a, b DecodeProblem) int { return cmp.Compare(a.Index, b.Index) })
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Index == p.Index {
			if !p.Skipped {
				continue
			}
			if !out[n-1].Skipped {
				out[n-1] = p
				continue
			}
		}
		out = append(out, p)
	}
	clear(ps[len(out):])
	d.list.Problems = out
}

// state normalises a state: the documented ones without allocating, the
// others lower-cased, trimmed and shared between the backups of an answer.
func (d *backupDecoder) state(raw []byte) string {
	switch string(raw) { // compiled without allocating
	case StatePending:
		return StatePending
	case StateCompleted:
		return StateCompleted
	case StateFailed:
		return StateFailed
	case "":
		return ""
	}
	if s, ok := d.states[string(raw)]; ok {
		return s
	}
	s := strings.ToLower(strings.TrimSpace(string(raw)))
	if len(s) > maxStateBytes {
		s = "unknown"
	}
	if len(d.states) < maxInternedStates && len(raw) <= maxStateBytes*2 {
		if d.states == nil {
			d.states = make(map[string]string)
		}
		d.states[string(raw)] = s
	}
	return s
}
