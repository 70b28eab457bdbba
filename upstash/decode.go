package upstash

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
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
)

// wireBackup is a Backup as the API sends it, with every drifting field
// left raw. Only the fields the exporter uses are decoded; it is reused
// from entry to entry, so its buffers are too.
type wireBackup struct {
	DatabaseID   rawText         `json:"database_id"`
	BackupID     rawText         `json:"backup_id"`
	CreationTime json.RawMessage `json:"creation_time"`
	State        rawText         `json:"state"`
	BackupSize   json.RawMessage `json:"backup_size"`
	DailyBackup  json.RawMessage `json:"daily_backup"`
	HourlyBackup json.RawMessage `json:"hourly_backup"`
}

// reset empties w and keeps its buffers.
func (w *wireBackup) reset() {
	w.DatabaseID = w.DatabaseID[:0]
	w.BackupID = w.BackupID[:0]
	w.CreationTime = w.CreationTime[:0]
	w.State = w.State[:0]
	w.BackupSize = w.BackupSize[:0]
	w.DailyBackup = w.DailyBackup[:0]
	w.HourlyBackup = w.HourlyBackup[:0]
}

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
		list:     BackupList{Backups: []Backup{}},
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
	seen map[uint64]uint64
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

// wireDecoder decodes entries into a wireBackup with one json.Decoder:
// its state and buffers are reused, where json.Unmarshal would allocate
// them for every entry.
type wireDecoder struct {
	src bytes.Reader
	dec *json.Decoder
	w   wireBackup
	// broken is set once dec has failed on the syntax of an entry: it
	// keeps that error, so it must not decode another answer.
	broken bool
}

var wireDecoders = sync.Pool{New: func() any {
	wd := &wireDecoder{}
	wd.dec = json.NewDecoder(&wd.src)
	return wd
}}

// runOnError is an entry whose literal runs on ("truex", "1.2.3"): the
// decoder stopped after the value, before next.
type runOnError struct{ next byte }

func (e *runOnError) Error() string { return describeByte(e.next) + " after a value" }

func (wd *wireDecoder) decode(elem []byte) (*wireBackup, error) {
	wd.w.reset()
	wd.src.Reset(elem)
	start := wd.dec.InputOffset()
	err := wd.dec.Decode(&wd.w)
	if _, syntax := errors.AsType[*json.SyntaxError](err); syntax || errors.Is(err, io.ErrUnexpectedEOF) {
		wd.broken = true
		return nil, err
	}
	if n := wd.dec.InputOffset() - start; n != int64(len(elem)) {
		// What the decoder left buffered would be read as the start
		// of the next entry.
		wd.broken = true
		return nil, &runOnError{elem[n]}
	}
	return &wd.w, err
}

// done returns d's wire decoder to the pool, unless it is broken.
func (d *backupDecoder) done() {
	if d.wire != nil && !d.wire.broken {
		d.wire.w.reset()
		wireDecoders.Put(d.wire)
	}
	d.wire = nil
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
			d.seen = make(map[uint64]uint64)
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

// replaces reports whether b, listed with the same backup_id as kept, is
// the one to keep: newer, or as new and in a worse state.
func replaces(b, kept Backup) bool {
	if b.CreationTime != kept.CreationTime {
		return b.CreationTime > kept.CreationTime
	}
	return stateRank(b.State) > stateRank(kept.State)
}

// stateRank orders states from the best to the worst news.
func stateRank(s string) int {
	switch s {
	case StateCompleted:
		return 0
	case StatePending:
		return 2
	case StateFailed:
		return 3
	}
	return 1
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

// wireDatabase is a Database as the API sends it. Passwords and tokens are
// not fields here, so they are never decoded.
type wireDatabase struct {
	DatabaseID         flexString      `json:"database_id"`
	DatabaseName       flexString      `json:"database_name"`
	Region             flexString      `json:"region"`
	PrimaryRegion      flexString      `json:"primary_region"`
	Type               flexString      `json:"type"`
	State              flexString      `json:"state"`
	CreationTime       json.RawMessage `json:"creation_time"`
	DailyBackupEnabled json.RawMessage `json:"daily_backup_enabled"`
}

// DecodeDatabases reads a list-databases answer. Entries without a
// database_id are skipped: nothing could be asked about them.
func DecodeDatabases(body []byte) ([]Database, error) {
	return decodeDatabaseStream(bytes.NewReader(body))
}

// decodeDatabaseStream reads a list-databases answer from r, one entry at
// a time, with the array reader of list-backup.
func decodeDatabaseStream(r io.Reader) ([]Database, error) {
	dbs := []Database{}
	err := walkArray(r, func(i int, elem []byte) error {
		if elem == nil {
			return nil
		}
		db, err := decodeDatabase(elem)
		if _, syntax := errors.AsType[*json.SyntaxError](err); syntax {
			return fmt.Errorf("invalid JSON array: entry %d: %s", i, shortJSONError(err))
		}
		if err == nil && db.ID != "" {
			dbs = append(dbs, db)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dbs, nil
}

func decodeDatabase(raw []byte) (Database, error) {
	var w wireDatabase
	if err := json.Unmarshal(raw, &w); err != nil {
		return Database{}, fmt.Errorf("not a database object: %w", shortError{err})
	}
	created, _ := parseTimestamp(w.CreationTime)
	return Database{
		ID:                 string(w.DatabaseID),
		Name:               string(w.DatabaseName),
		Region:             string(w.Region),
		PrimaryRegion:      string(w.PrimaryRegion),
		Plan:               string(w.Type),
		State:              string(w.State),
		CreationTime:       created,
		DailyBackupEnabled: parseFlag(w.DailyBackupEnabled),
	}, nil
}

// describeJSON names the kind of a non-array answer, quoting an error
// message when the answer carries one.
func describeJSON(b []byte) string {
	if msg, ok := errorMessage(b); ok {
		if len(msg) > maxExcerpt {
			// Cut between words: a cut through a token would leave a
			// piece of it that redaction, which matches whole secrets,
			// cannot recognise.
			cut := strings.LastIndexFunc(msg[:maxExcerpt+1], unicode.IsSpace)
			if cut < 0 {
				return fmt.Sprintf("an error message of %d bytes", len(msg))
			}
			msg = strings.ToValidUTF8(msg[:cut], "") + " …"
		}
		return "an error message: " + strconv.Quote(msg)
	}
	switch b[0] {
	case '{':
		return "a JSON object"
	case '"':
		return "a JSON string"
	case '<':
		return "HTML or XML"
	default:
		return "text that is not a JSON array"
	}
}

// errorMessage extracts the message of {"error":"..."}, {"message":"..."}
// or a bare JSON string.
func errorMessage(b []byte) (string, bool) {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s, true
	}
	var obj struct {
		Error   *string `json:"error"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(b, &obj) == nil {
		if obj.Error != nil {
			return *obj.Error, true
		}
		if obj.Message != nil {
			return *obj.Message, true
		}
	}
	return "", false
}

// shortError is an error whose text is shortJSONError's, keeping the
// original for errors.As.
type shortError struct{ err error }

func (e shortError) Error() string { return shortJSONError(e.err) }
func (e shortError) Unwrap() error { return e.err }

// shortJSONError keeps json's error text, which names offsets and types
// but never values, short.
func shortJSONError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// flexString accepts a JSON string, number or boolean as text, and null
// as "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if n := len(b); n >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		// A plain string: no escapes to resolve, no bytes to replace.
		*f = flexString(b[1 : n-1])
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return errors.New("expected a string, got an object or array")
	}
	*f = flexString(b)
	return nil
}

// rawText is flexString into a reused buffer: the text of a JSON string
// (escapes resolved, invalid UTF-8 replaced), number or boolean, and null
// as empty. Reading a plain string allocates nothing.
type rawText []byte

func (f *rawText) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b):
		*f = append((*f)[:0], b[1:len(b)-1]...)
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = append((*f)[:0], s...)
	case bytes.Equal(b, []byte("null")):
		*f = (*f)[:0]
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return errors.New("expected a string, got an object or array")
	default:
		*f = append((*f)[:0], b...)
	}
	return nil
}

var errMissing = errors.New("missing")

// parseTimestamp reads creation_time as Unix seconds, converting values
// that can only be milliseconds.
func parseTimestamp(raw json.RawMessage) (int64, error) {
	v, err := parseNumber(raw)
	if err != nil {
		return 0, err
	}
	if v > millisecondsAbove {
		v /= 1000
	}
	if v <= 0 {
		return 0, fmt.Errorf("%d is not a time", v)
	}
	return v, nil
}

func parseNumber(raw json.RawMessage) (int64, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return 0, errMissing
	}
	if n, ok := plainInt(b); ok {
		return n, nil
	}
	text := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return 0, errors.New("unreadable string")
		}
		text = strings.TrimSpace(text)
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is not a number", describeValue(b))
	}
	// float64(math.MaxInt64) is 2^63, which int64 cannot hold: converting
	// it would wrap to a negative number.
	if f >= 1<<63 || f < -(1<<63) {
		return 0, fmt.Errorf("%s is out of range", describeValue(b))
	}
	return int64(f), nil
}

// quoteShort quotes a short text and only measures a long one, which keeps
// reasons (logged) short and, like describeValue, never cuts a value.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("of %d bytes", len(s))
}

// plainInt reads an unsigned decimal integer of up to 18 digits without
// allocating; anything else is left to the general path.
func plainInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// describeValue repeats a short JSON value and only measures a long one:
// a piece of a long value could be a piece of a secret that redaction,
// which matches whole secrets, cannot recognise.
func describeValue(b []byte) string {
	if len(b) <= 32 {
		return string(b)
	}
	return fmt.Sprintf("a value of %d bytes", len(b))
}

// parseFlag reads true/false as a boolean, a string ("true", "1", "yes")
// or a number; anything else, or absence, is false.
func parseFlag(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	switch string(b) { // compiled without allocating
	case "", "false", `"false"`, "null":
		return false
	case "true", `"true"`:
		return true
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes":
			return true
		}
	case float64:
		return t != 0
	}
	return false
}
