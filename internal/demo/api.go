// Package demo is the exporter's --demo mode: a simulated Upstash account of
// seven databases, one per situation the exporter must show (a healthy daily
// schedule, failing backups, a backup stuck pending, daily backup off, an
// hourly schedule, a day missing in the chain, a newest backup that
// shrank), whose backups appear and complete as the clock moves.
// None of its data comes from Upstash.
//
// API serves the account's Developer API calls in process, as an
// http.RoundTripper: the demo opens no port and makes no network call. The
// test fake in internal/upstashtest serves the same cast and wire types.
package demo

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BaseURL is the Developer API base URL of the demo account. It is never
// resolved: API answers every request made through it.
const BaseURL = "http://demo.invalid/v2"

// API answers the Developer API calls of the demo account without a network:
// a client with API as its Transport and BaseURL as its base URL reads the
// demo. It answers GET /redis/databases and GET /redis/list-backup/{id},
// with HTTP Basic auth of Email and APIKey, in the wire format of the real
// API. It is safe for concurrent use.
type API struct {
	clock     func() time.Time
	cast      Cast
	databases []byte
}

// New returns the demo API, reading time from clock (time.Now when nil).
// The cast starts at the clock's first reading.
func New(clock func() time.Time) *API {
	if clock == nil {
		clock = time.Now
	}
	buf := []byte{'['}
	for i, db := range Databases() {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSON(buf, WireDatabase(db, Email))
	}
	return &API{clock: clock, cast: NewCast(clock()), databases: append(buf, ']')}
}

// RoundTrip answers req in process. It fails only when req's context has
// ended, as a network round trip would.
func (a *API) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	status, contentType, body := a.answer(req)
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {contentType}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

const jsonContent = "application/json"

// answer returns the status, content type and body of the answer to req.
func (a *API) answer(req *http.Request) (int, string, []byte) {
	if email, key, ok := req.BasicAuth(); !ok || email != Email || key != APIKey {
		return http.StatusUnauthorized, jsonContent, []byte(`{"error":"Unauthorized"}`)
	}
	if req.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, jsonContent, []byte(`{"error":"Method Not Allowed"}`)
	}
	path, _ := strings.CutPrefix(req.URL.Path, "/v2")
	if path == "/redis/databases" {
		return http.StatusOK, jsonContent, a.databases
	}
	if id, ok := strings.CutPrefix(path, "/redis/list-backup/"); ok {
		if backups, ok := a.cast.Backups(id, a.clock()); ok {
			return http.StatusOK, jsonContent, EncodeBackups(Email, backups)
		}
		return http.StatusNotFound, jsonContent, []byte(`"database not found"`)
	}
	return http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 page not found\n")
}
