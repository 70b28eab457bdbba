package upstash

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
