package upstash

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Decoding policy. The API's answers drift (see the project README,
// "Failure modes"), so one entry that cannot be used never costs the rest of
// the answer:
//   - an answer that is not a JSON array (an object, a string, HTML,
//     truncated JSON) is rejected whole; `null` is an empty list;
//   - an entry that is not an object, or whose creation_time is missing,
//     unreadable, not positive or more than a day in the future, is skipped:
//     it cannot be placed in time, and a future one would hide staleness;
//   - creation_time above 1e11 is read as milliseconds (year 5138 in
//     seconds) and converted;
//   - numbers may come as JSON numbers (fractions truncated) or numeric
//     strings; flags as booleans or "true"/"false" strings;
//   - a negative or unreadable backup_size is kept as 0 and reported;
//   - a missing state is kept as "" (counted as an unknown state);
//   - a backup_id seen twice keeps its first entry; later ones are skipped.
const (
	millisecondsAbove = 1e11
	maxFutureSkew     = 24 * time.Hour
)

// wireBackup is a Backup as the API sends it, with every drifting field
// left raw.
type wireBackup struct {
	DatabaseID        flexString      `json:"database_id"`
	Name              flexString      `json:"name"`
	BackupName        flexString      `json:"backup_name"`
	BackupID          flexString      `json:"backup_id"`
	CreationTime      json.RawMessage `json:"creation_time"`
	State             flexString      `json:"state"`
	BackupSize        json.RawMessage `json:"backup_size"`
	DailyBackup       json.RawMessage `json:"daily_backup"`
	HourlyBackup      json.RawMessage `json:"hourly_backup"`
	InternalBackupTag flexString      `json:"internal_backup_tag"`
}

// DecodeBackups reads a list-backup answer. now is used only to skip
// backups dated more than a day ahead of it.
func DecodeBackups(body []byte, now time.Time) (BackupList, error) {
	// Fast path: an answer whose every entry is an object of the expected
	// shape decodes in one pass. Anything odd falls back to entry by
	// entry, so one bad entry costs only itself.
	var wires []wireBackup
	if err := json.Unmarshal(body, &wires); err == nil {
		list := BackupList{Backups: make([]Backup, 0, len(wires))}
		d := backupDecoder{list: &list, latest: now.Add(maxFutureSkew).Unix()}
		for i := range wires {
			d.add(i, &wires[i])
		}
		return list, nil
	}
	entries, err := decodeArray(body)
	if err != nil {
		return BackupList{}, err
	}
	list := BackupList{Backups: make([]Backup, 0, len(entries))}
	d := backupDecoder{list: &list, latest: now.Add(maxFutureSkew).Unix()}
	for i, raw := range entries {
		var w wireBackup
		if err := json.Unmarshal(raw, &w); err != nil {
			list.Problems = append(list.Problems, DecodeProblem{Index: i, Skipped: true, Reason: "entry is not a backup object: " + shortJSONError(err)})
			continue
		}
		d.add(i, &w)
	}
	return list, nil
}

// backupDecoder turns wire entries into Backups under the policy above.
type backupDecoder struct {
	list   *BackupList
	seen   map[string]struct{}
	latest int64
}

func (d *backupDecoder) problem(i int, skipped bool, reason string) {
	d.list.Problems = append(d.list.Problems, DecodeProblem{Index: i, Skipped: skipped, Reason: reason})
}

func (d *backupDecoder) add(i int, w *wireBackup) {
	ts, err := parseTimestamp(w.CreationTime)
	if err != nil {
		d.problem(i, true, "creation_time: "+err.Error())
		return
	}
	if ts > d.latest {
		d.problem(i, true, fmt.Sprintf("creation_time %d is more than %s in the future", ts, maxFutureSkew))
		return
	}
	b := Backup{
		DatabaseID:        string(w.DatabaseID),
		BackupID:          string(w.BackupID),
		Name:              string(w.Name),
		CreationTime:      ts,
		State:             normalState(string(w.State)),
		InternalBackupTag: string(w.InternalBackupTag),
	}
	if b.Name == "" {
		b.Name = string(w.BackupName)
	}
	if b.BackupID != "" {
		if d.seen == nil {
			d.seen = make(map[string]struct{}, cap(d.list.Backups))
		}
		if _, dup := d.seen[b.BackupID]; dup {
			d.problem(i, true, "backup_id "+quoteShort(b.BackupID)+" listed again")
			return
		}
		d.seen[b.BackupID] = struct{}{}
	}
	if size, err := parseInt(w.BackupSize); err != nil {
		d.problem(i, false, "backup_size: "+err.Error()+"; read as 0")
	} else if size < 0 {
		d.problem(i, false, fmt.Sprintf("backup_size %d is negative; read as 0", size))
	} else {
		b.SizeBytes = size
	}
	b.DailyBackup = parseFlag(w.DailyBackup)
	b.HourlyBackup = parseFlag(w.HourlyBackup)
	d.list.Backups = append(d.list.Backups, b)
}

// normalState lower-cases and trims a state, without allocating for the
// documented ones.
func normalState(s string) string {
	switch s {
	case StatePending, StateCompleted, StateFailed:
		return s
	}
	return strings.ToLower(strings.TrimSpace(s))
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
	entries, err := decodeArray(body)
	if err != nil {
		return nil, err
	}
	dbs := make([]Database, 0, len(entries))
	for _, raw := range entries {
		db, err := decodeDatabase(raw)
		if err != nil || db.ID == "" {
			continue
		}
		dbs = append(dbs, db)
	}
	return dbs, nil
}

// DecodeDatabase reads a get-database answer.
func DecodeDatabase(body []byte) (Database, error) {
	db, err := decodeDatabase(body)
	if err != nil {
		return Database{}, err
	}
	if db.ID == "" {
		return Database{}, errors.New("answer has no database_id")
	}
	return db, nil
}

func decodeDatabase(raw []byte) (Database, error) {
	var w wireDatabase
	if err := json.Unmarshal(raw, &w); err != nil {
		return Database{}, fmt.Errorf("not a database object: %s", shortJSONError(err))
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

// decodeArray splits a JSON array into its raw entries. `null` is an empty
// array; anything else that is not an array is an error that says what the
// answer looked like.
func decodeArray(body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty answer, expected a JSON array")
	}
	if bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %s", describeJSON(trimmed))
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(trimmed, &entries); err != nil {
		return nil, fmt.Errorf("invalid JSON array: %s", shortJSONError(err))
	}
	return entries, nil
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

var errMissing = errors.New("missing")

// parseInt reads a JSON number (fraction truncated) or numeric string.
// Absent or null reads as 0.
func parseInt(raw json.RawMessage) (int64, error) {
	v, err := parseNumber(raw)
	if errors.Is(err, errMissing) {
		return 0, nil
	}
	return v, err
}

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
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%s is not a number", describeValue(b))
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

// basicToken is the base64 of "email:key" as sent in the Authorization
// header, so redaction can remove it too.
func basicToken(email, key string) string {
	if key == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(email + ":" + key))
}
