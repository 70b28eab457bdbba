package upstash

import (
	"encoding/json"
	"strings"
)

// The common shape of a list-backup entry is a flat object of plain
// strings, integers and booleans. decodePlain reads that shape without
// reflection, about twenty times faster than the json.Decoder; anything
// else (an escape, a nested value, a fraction, a key that only matches a
// field when case is ignored, bad syntax) is left to the json.Decoder,
// which gives it its meaning and its error. FuzzDecodePlain checks that
// both agree on what decodePlain accepts.

// decodePlain reads elem, one whole JSON value, when it has the common
// shape, and reports whether it did. set is called with each key and
// value in order, and stores the value as encoding/json would; it reports
// false for a key that names a field only when case is ignored.
func decodePlain(elem []byte, set func(key, value []byte) bool) bool {
	s := plainScanner{b: elem}
	if !s.skip('{') {
		return false
	}
	if s.skip('}') {
		return s.i == len(elem)
	}
	for {
		key, ok := s.text()
		if !ok || !s.skip(':') {
			return false
		}
		value, ok := s.value()
		if !ok || !set(key, value) || s.i >= len(elem) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			return s.i+1 == len(elem)
		default:
			return false
		}
	}
}

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

// set stores value in the field named key as encoding/json would, and
// reports false for a key it could only match ignoring case.
func (w *wireBackup) set(key, value []byte) bool {
	var text *rawText
	var raw *json.RawMessage
	switch string(key) {
	case "database_id":
		text = &w.DatabaseID
	case "backup_id":
		text = &w.BackupID
	case "state":
		text = &w.State
	case "creation_time":
		raw = &w.CreationTime
	case "backup_size":
		raw = &w.BackupSize
	case "daily_backup":
		raw = &w.DailyBackup
	case "hourly_backup":
		raw = &w.HourlyBackup
	default:
		return !foldsTo(key, wireBackupKeys)
	}
	// Neither fails on a string, number or literal.
	if text != nil {
		_ = text.UnmarshalJSON(value)
	} else {
		_ = raw.UnmarshalJSON(value)
	}
	return true
}

// wireBackupKeys are the keys of wireBackup.
var wireBackupKeys = []string{"database_id", "backup_id", "state", "creation_time", "backup_size", "daily_backup", "hourly_backup"}

// foldsTo reports whether key is one of fields when case is ignored, as
// encoding/json matches keys.
func foldsTo(key []byte, fields []string) bool {
	for _, f := range fields {
		if len(f) == len(key) && strings.EqualFold(f, string(key)) {
			return true
		}
	}
	return false
}

// plainScanner reads the tokens of the common shape from b, skipping
// JSON's white space before each.
type plainScanner struct {
	b []byte
	i int
}

func (s *plainScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// skip consumes c, after white space, if it comes next.
func (s *plainScanner) skip(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// text reads a string without escapes or control bytes and returns what
// is between its quotes; keys must also be ASCII.
func (s *plainScanner) text() ([]byte, bool) {
	if !s.skip('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// value reads a string without escapes or control bytes, an integer,
// true, false or null, and the white space after it; it returns the
// value's bytes.
func (s *plainScanner) value() ([]byte, bool) {
	s.space()
	start := s.i
	if s.i >= len(s.b) {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		for s.i++; s.i < len(s.b); s.i++ {
			c := s.b[s.i]
			if c == '"' {
				break
			}
			if c == '\\' || c < 0x20 {
				return nil, false
			}
		}
		if s.i == len(s.b) {
			return nil, false
		}
		s.i++
	case c == '-' || '0' <= c && c <= '9':
		if c == '-' {
			s.i++
		}
		digits := s.i
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
		// JSON integers: at least one digit, no leading zero.
		if n := s.i - digits; n == 0 || n > 1 && s.b[digits] == '0' {
			return nil, false
		}
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				break
			}
		}
		if s.i == start {
			return nil, false
		}
	}
	end := s.i
	s.space()
	// A value ends at white space, a comma or a brace: "1.5", "1e3" and
	// "truex" are the json.Decoder's to read.
	if s.i < len(s.b) && s.b[s.i] != ',' && s.b[s.i] != '}' {
		return nil, false
	}
	return s.b[start:end], true
}
