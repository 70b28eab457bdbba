package demo

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// Backup is one entry of list-backup in its wire form, field for field as the
// OpenAPI document names them. EncodeBackups sends an empty CustomerID as the
// account e-mail and an empty DailyBackup or HourlyBackup as "false".
type Backup struct {
	DatabaseID   string `json:"database_id"`
	CustomerID   string `json:"customer_id"`
	Name         string `json:"name"`
	BackupID     string `json:"backup_id"`
	CreationTime int64  `json:"creation_time"`
	// State is pending, completed or failed; any other value is sent as is.
	State      string `json:"state"`
	BackupSize int64  `json:"backup_size"`
	// DailyBackup and HourlyBackup are the strings "true" or "false".
	DailyBackup       string `json:"daily_backup"`
	HourlyBackup      string `json:"hourly_backup"`
	InternalBackupTag string `json:"internal_backup_tag"`
}

// Created returns CreationTime as a time.Time.
func (b Backup) Created() time.Time { return time.Unix(b.CreationTime, 0).UTC() }

// EncodeBackups returns the list-backup answer of an account whose e-mail
// is email.
func EncodeBackups(email string, backups []Backup) []byte {
	wire := make([]Backup, len(backups))
	for i, b := range backups {
		if b.CustomerID == "" {
			b.CustomerID = email
		}
		if b.DailyBackup == "" {
			b.DailyBackup = strconv.FormatBool(false)
		}
		if b.HourlyBackup == "" {
			b.HourlyBackup = strconv.FormatBool(false)
		}
		wire[i] = b
	}
	// Backup has only string and int64 fields: Marshal cannot fail.
	body, _ := json.Marshal(wire)
	return body
}

// DatabaseWire is a database in the wire form of list-databases, with the
// fields the real API sends and the exporter must ignore. The credentials
// are left out when empty, as with credentials=hide.
type DatabaseWire struct {
	DatabaseID         string `json:"database_id"`
	DatabaseName       string `json:"database_name"`
	Region             string `json:"region"`
	PrimaryRegion      string `json:"primary_region"`
	Type               string `json:"type"`
	State              string `json:"state"`
	CreationTime       int64  `json:"creation_time"`
	DailyBackupEnabled bool   `json:"daily_backup_enabled"`
	CustomerID         string `json:"customer_id"`
	Endpoint           string `json:"endpoint"`
	Port               int    `json:"port"`
	TLS                bool   `json:"tls"`
	Password           string `json:"password,omitempty"`
	RESTToken          string `json:"rest_token,omitempty"`
	ReadOnlyRESTToken  string `json:"read_only_rest_token,omitempty"`
}

// WireDatabase returns db as an account whose e-mail is email lists it,
// without credentials.
func WireDatabase(db upstash.Database, email string) DatabaseWire {
	return DatabaseWire{
		DatabaseID:         db.ID,
		DatabaseName:       db.Name,
		Region:             db.Region,
		PrimaryRegion:      db.PrimaryRegion,
		Type:               db.Plan,
		State:              db.State,
		CreationTime:       db.CreationTime,
		DailyBackupEnabled: db.DailyBackupEnabled,
		CustomerID:         email,
		Endpoint:           "fake-" + db.Name,
		Port:               6379,
		TLS:                true,
	}
}

// appendJSON appends v, a struct of strings, numbers and booleans that
// Marshal cannot fail on, to buf.
func appendJSON(buf []byte, v any) []byte {
	b, _ := json.Marshal(v)
	return append(buf, b...)
}

// BackupID returns a UUID-shaped backup id, stable for a database and a
// creation time, so simulated backups keep their ids across requests.
func BackupID(databaseID string, creationTime int64) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(databaseID)) // hash.Hash never fails to write
	sum := h.Sum64()
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(sum>>32), uint16(sum), uint64(creationTime)&0xffffffffffff)
}
