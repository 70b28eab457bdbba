package upstash

// Backup states as the Developer API names them. Any other value is kept
// verbatim in Backup.State; callers decide how to count it.
const (
	StatePending   = "pending"
	StateCompleted = "completed"
	StateFailed    = "failed"
)

// Backup is what the exporter keeps of one entry of
// GET /redis/list-backup/{id}: what a summary needs, nothing more, so that a
// database listing many backups costs little memory.
//
// customer_id (the account e-mail) is deliberately not kept: it must never
// reach a label or a log line. Names, ids and tags are not kept either:
// backup_id is only used to find entries listed twice.
type Backup struct {
	// CreationTime is Unix seconds (the API's creation_time).
	CreationTime int64
	State        string
	// SizeBytes is the API's backup_size. Its unit is undocumented; the
	// database sizes of the same API are bytes, so it is treated as bytes.
	SizeBytes int64
	// SizeUnknown is true when backup_size could not be read (negative,
	// not a number, too large): SizeBytes is then 0 and means nothing.
	SizeUnknown  bool
	DailyBackup  bool
	HourlyBackup bool
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
	// with a field it could not read (a backup_size: SizeUnknown).
	Skipped bool
	// Kind is one of the Problem* constants: a short, fixed word that can
	// be a label value.
	Kind string
	// Reason says what was wrong, for a log line; it may quote the answer.
	Reason string
}

// Kinds of DecodeProblem. Every kind but ProblemBackupSize leaves the entry
// out; ProblemBackupSize keeps it with SizeUnknown set.
const (
	ProblemNotObject     = "not_object"
	ProblemTooLarge      = "too_large"
	ProblemCreationTime  = "creation_time"
	ProblemFuture        = "future_creation_time"
	ProblemDuplicate     = "duplicate"
	ProblemOtherDatabase = "other_database"
	ProblemBackupSize    = "backup_size"
)

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
