package upstash

// Backup states as the Developer API names them. Any other value is kept
// verbatim in Backup.State; callers decide how to count it.
const (
	StatePending   = "pending"
	StateCompleted = "completed"
	StateFailed    = "failed"
)

// Backup is one entry of GET /redis/list-backup/{id}.
//
// customer_id (the account e-mail) is deliberately not kept: it must never
// reach a label or a log line.
type Backup struct {
	DatabaseID string
	BackupID   string
	Name       string
	// CreationTime is Unix seconds (the API's creation_time).
	CreationTime int64
	State        string
	// SizeBytes is the API's backup_size. Its unit is undocumented; the
	// database sizes of the same API are bytes, so it is treated as bytes.
	SizeBytes         int64
	DailyBackup       bool
	HourlyBackup      bool
	InternalBackupTag string
}

// BackupList is the decoded answer of list-backup. Entries the decoder could
// not use are not in Backups; each is described in Problems so the caller can
// count and log them.
type BackupList struct {
	Backups  []Backup
	Problems []DecodeProblem
}

// DecodeProblem says why one entry of an answer was skipped or altered.
type DecodeProblem struct {
	// Index is the entry's position in the JSON array.
	Index int
	// Skipped is true when the entry was left out, false when it was kept
	// with a field corrected (for example a negative size read as 0).
	Skipped bool
	Reason  string
}
