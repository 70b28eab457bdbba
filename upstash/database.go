package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Database is the part of a Redis database description, from
// GET /redis/databases, that the exporter uses.
// Passwords and REST tokens in the answer are never decoded.
type Database struct {
	ID            string
	Name          string
	Region        string
	PrimaryRegion string
	// Plan is the API's "type" field: free, payg, pro, paid.
	Plan  string
	State string
	// CreationTime is Unix seconds.
	CreationTime       int64
	DailyBackupEnabled bool
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

// wireDatabaseKeys are the keys of wireDatabase.
var wireDatabaseKeys = []string{"database_id", "database_name", "region", "primary_region", "type", "state", "creation_time", "daily_backup_enabled"}

// set stores value in the field named key as encoding/json would, for
// decodePlain.
func (w *wireDatabase) set(key, value []byte) bool {
	var text *flexString
	var raw *json.RawMessage
	switch string(key) {
	case "database_id":
		text = &w.DatabaseID
	case "database_name":
		text = &w.DatabaseName
	case "region":
		text = &w.Region
	case "primary_region":
		text = &w.PrimaryRegion
	case "type":
		text = &w.Type
	case "state":
		text = &w.State
	case "creation_time":
		raw = &w.CreationTime
	case "daily_backup_enabled":
		raw = &w.DailyBackupEnabled
	default:
		return !foldsTo(key, wireDatabaseKeys)
	}
	// Neither fails on a string, number or literal.
	if text != nil {
		_ = text.UnmarshalJSON(value)
	} else {
		_ = raw.UnmarshalJSON(value)
	}
	return true
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
	if !decodePlain(raw, w.set) {
		w = wireDatabase{}
		if err := json.Unmarshal(raw, &w); err != nil {
			return Database{}, fmt.Errorf("not a database object: %w", shortError{err})
		}
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
