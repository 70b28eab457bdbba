// Package upstashtest is an in-process fake of the part of the Upstash
// Developer API that the exporter reads, in the spirit of net/http/httptest.
//
// A Server holds a cast of databases and their backups and answers
//
//	GET /redis/databases
//	GET /redis/database/{id}          (honours ?credentials=hide)
//	GET /redis/list-backup/{id}
//
// in the wire format of ../../shared/upstash-api/developer-api.openapi.yml.
// The server root stands for https://api.upstash.com/v2, so a client under
// test uses Server.URL as its base URL. Every call needs HTTP Basic auth with
// the credentials the server was built with.
//
// Tests shape the answers: faults (status codes, odd bodies, Retry-After,
// latency, hanging, reset connections, slowly written bodies) per database or
// for the database list, a fixed latency on every call, and raw JSON for the
// drift the real API shows. Answers are encoded once when the cast changes,
// so a benchmark with thousands of databases measures the client, not the
// fake.
//
// WithDemoCast serves the cast of the exporter's --demo mode, from package
// internal/demo: seven simulated databases whose backups appear and complete
// over time, computed from the clock at request time, here with the fake's
// faults and request log. The exporter itself never links this package.
package upstashtest
