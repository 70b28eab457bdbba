package upstash

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Endpoint names, as they appear in the exporter's api_requests_total
// "endpoint" label and in error messages. The client does not call
// get_database; the name is kept for test servers that serve it.
const (
	EndpointListBackup    = "list_backup"
	EndpointListDatabases = "list_databases"
	EndpointGetDatabase   = "get_database"
)

// Request outcome codes used where no HTTP status came back.
const (
	CodeTimeout = "timeout"
	CodeError   = "error"
)

// APIError is the one error type for a failed Developer API call. It never
// holds a credential: Body is a short excerpt of the answer with anything
// resembling the caller's key removed.
type APIError struct {
	Endpoint string
	// DatabaseID is set for calls about one database.
	DatabaseID string
	// StatusCode is the HTTP status, 0 when none came back (timeout,
	// connection error) or the answer could not be decoded after a 2xx.
	StatusCode int
	// Class is a short machine-readable kind: "http_status", "timeout",
	// "connection", "decode", "too_large" (the body limit, or the
	// client's budget of backups in flight), "throttled" (not sent:
	// Retry-After or rate limit) or "invalid" (not sent: bad arguments).
	Class string
	// Body is a secret-free excerpt of the answer (at most a few hundred bytes).
	Body string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

// Error classes.
const (
	ClassHTTPStatus = "http_status"
	ClassTimeout    = "timeout"
	ClassConnection = "connection"
	ClassDecode     = "decode"
	ClassTooLarge   = "too_large"
)

func (e *APIError) Error() string {
	where := e.Endpoint
	if e.DatabaseID != "" {
		where += " " + strconv.Quote(e.DatabaseID)
	}
	switch {
	case e.StatusCode != 0 && e.Body != "":
		return fmt.Sprintf("upstash %s: HTTP %d: %s", where, e.StatusCode, e.Body)
	case e.StatusCode != 0 && e.Err != nil:
		return fmt.Sprintf("upstash %s: HTTP %d: %s: %v", where, e.StatusCode, e.Class, e.Err)
	case e.StatusCode != 0:
		return fmt.Sprintf("upstash %s: HTTP %d", where, e.StatusCode)
	case e.Err != nil:
		return fmt.Sprintf("upstash %s: %s: %v", where, e.Class, e.Err)
	default:
		return fmt.Sprintf("upstash %s: %s", where, e.Class)
	}
}

func (e *APIError) Unwrap() error { return e.Err }

// Code is the value of the "code" label for this failure: the HTTP status
// when one came back, else "timeout" or "error".
func (e *APIError) Code() string {
	if e.StatusCode != 0 {
		return strconv.Itoa(e.StatusCode)
	}
	if e.Class == ClassTimeout {
		return CodeTimeout
	}
	return CodeError
}

// IsAuth reports whether err is an API answer that rejects the credentials
// (401 or 403).
func IsAuth(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.StatusCode == 401 || ae.StatusCode == 403)
}
