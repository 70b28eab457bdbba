package upstash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Endpoint names, as they appear in the exporter's api_requests_total
// "endpoint" label and in error messages.
const (
	EndpointListBackup    = "list_backup"
	EndpointListDatabases = "list_databases"
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

// transportError classifies a failure to get a whole answer. The error
// text of net/http names the URL but never the credentials, which travel
// in a header; it is still passed through redact for safety.
func (c *Client) transportError(ctx context.Context, endpoint, databaseID string, status int, err error) *APIError {
	e := &APIError{Endpoint: endpoint, DatabaseID: databaseID, StatusCode: status, Class: ClassConnection}
	var netErr net.Error
	switch {
	case errors.Is(err, errTooLarge):
		e.Class = ClassTooLarge
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &netErr) && netErr.Timeout():
		e.Class = ClassTimeout
		// A status without a whole body is still a timeout for the
		// code label: the call did not complete.
		e.StatusCode = 0
	}
	e.Err = errors.New(c.redact(unwrapURLError(err).Error()))
	return e
}

// unwrapURLError drops the "Get \"https://...\":" prefix of *url.Error:
// the endpoint is already named by APIError.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// maxExcerpt bounds the body text kept in an APIError.
const maxExcerpt = 200

// excerpt turns an error answer into a short, printable, secret-free text.
// Seen shapes are {"error":"..."}, a JSON string, and plain text or HTML.
// truncated says the answer was longer than body: its last word, which
// could be a piece of a secret, is dropped.
func (c *Client) excerpt(body []byte, truncated bool) string {
	if truncated {
		if cut := bytes.LastIndexFunc(body, unicode.IsSpace); cut >= 0 {
			body = body[:cut]
		}
	}
	s := strings.TrimSpace(string(body))
	if msg, ok := errorMessage(body); ok && !truncated {
		s = msg
	}
	// Redaction comes before white space is normalised: a key broken
	// across lines is recognised as such and withholds the whole text.
	s = c.redact(s)
	s = strings.Map(func(r rune) rune {
		if r == '\uFFFD' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") + "…"
	}
	return s
}

// redact removes every encoding of the API key, and of the Basic
// credentials built from it, from a text about to be kept in an error.
func (c *Client) redact(s string) string {
	return c.redactor.Load().String(s)
}

// redactError is err with its text redacted: a decode error quotes the
// answer, which an API echoing the request could make the key.
func (c *Client) redactError(err error) error {
	return c.redactor.Load().Error(err)
}
