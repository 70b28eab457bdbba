package upstash

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the decoders: whatever the API sends, decoding never
// panics, and what it accepts holds the guarantees the collector relies on.
// `go test` runs the seeds below and those in testdata/fuzz; scripts/fuzz.sh
// fuzzes each target for a bounded time.

// fuzzNow is the clock of FuzzDecodeBackups: 2025-11-24.
var fuzzNow = time.Unix(1764000000, 0)

// knownKinds are the kinds of DecodeProblem.
var knownKinds = map[string]bool{
	ProblemNotObject: true, ProblemTooLarge: true, ProblemCreationTime: true, ProblemFuture: true,
	ProblemDuplicate: true, ProblemOtherDatabase: true, ProblemBackupSize: true,
}

// maxReason bounds a problem's reason and a decode error's text: they are
// logged, and an answer must not be able to make a log line of any size.
const maxReason = 512

func addBackupSeeds(f *testing.F) {
	for _, s := range []string{
		``, `null`, `[]`, ` [ ] `, `{}`, `"database not found"`, `{"error":"Unauthorized"}`, `{"message":"x"}`,
		`<html><body>502</body></html>`, `[1, "two", null, [], {}]`, "\xff\xfe[]", `[{"creation_time":`,
		`[{"database_id":"db1","customer_id":"example@upstash.com","name":"test","backup_id":"b1","creation_time":1757000716,"state":"pending","backup_size":0,"daily_backup":"false","hourly_backup":"false","internal_backup_tag":""}]`,
		`[{"backup_id":"b1","backup_name":"old","creation_time":"1757000716","state":"COMPLETED ","backup_size":"12.5","daily_backup":true,"hourly_backup":1}]`,
		`[{"backup_id":"b1","creation_time":1757000716123,"state":"completed","backup_size":-1},{"backup_id":"b1","creation_time":1757000716,"state":"failed"}]`,
		`[{"backup_id":"b","creation_time":9223372036854775807},{"creation_time":-1},{"creation_time":0},{"creation_time":1e300},{"creation_time":"NaN"},{"creation_time":9.223372036854775807e18}]`,
		`[{"backup_id":{"a":1},"creation_time":1757000716},{"state":["x"],"creation_time":1757000716},{"creation_time":true}]`,
		`[{"backup_id":"\ud800","name":"\xc3\x28","creation_time":1757000716,"state":"completed\u0000"}]`,
		"\v[]\u00a0", `[1x]`, `[truex]`, `[{]}]`, `[1 2]`, `[1,]`, `[] []`, `null x`, `[nul]`, `["]\"[{"]`,
		`[{"backup_id":"b","creation_time":1757000716,"state":"completed"},{"backup_id":"b","creation_time":1757000716,"state":"failed","backup_size":"x"}]`,
		`[{"database_id":"other","creation_time":1757000716},{"creation_time":1757000716,"backup_size":9223372036854775808}]`,
	} {
		f.Add([]byte(s))
	}
	long := strings.Repeat("x", 600)
	f.Add([]byte(`[{"backup_id":"` + long + `","creation_time":1757000716},{"backup_id":"` + long + `","creation_time":1757000716},{"creation_time":"` + long + `"}]`))
}

func FuzzDecodeBackups(f *testing.F) {
	addBackupSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := DecodeBackups(body, fuzzNow)
		if err != nil {
			if len(err.Error()) > maxReason {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			if len(list.Backups) != 0 || len(list.Problems) != 0 {
				t.Errorf("a rejected answer returned backups or problems")
			}
			var entries []json.RawMessage
			if json.Unmarshal(bytes.TrimSpace(body), &entries) == nil {
				t.Errorf("rejected a JSON array (%v): %q", err, body)
			}
			return
		}
		// The decoder trims any white space around the answer (a stray
		// \v included), not only JSON's. It accepts a JSON array or null
		// (checked the other way round below), except that an entry over
		// maxEntryBytes is skipped without being read.
		var entries []json.RawMessage
		unread := false
		for _, p := range list.Problems {
			unread = unread || p.Kind == ProblemTooLarge
		}
		if trimmed := bytes.TrimSpace(body); string(trimmed) != "null" && !unread {
			if json.Unmarshal(trimmed, &entries) != nil {
				t.Fatalf("accepted an answer that is not a JSON array: %q", body)
			}
		}
		skipped, last := 0, -1
		for _, p := range list.Problems {
			if p.Index <= last || !unread && p.Index >= len(entries) {
				t.Errorf("problem index %d out of order or range (%d entries)", p.Index, len(entries))
			}
			last = p.Index
			if p.Skipped {
				skipped++
			}
			if p.Skipped != (p.Kind != ProblemBackupSize) || !knownKinds[p.Kind] {
				t.Errorf("problem %+v: unknown kind, or skipped does not match it", p)
			}
			if p.Reason == "" || len(p.Reason) > maxReason {
				t.Errorf("reason of %d bytes: %.100q", len(p.Reason), p.Reason)
			}
		}
		if !unread && len(list.Backups)+skipped != len(entries) {
			t.Errorf("%d backups and %d skipped from %d entries", len(list.Backups), skipped, len(entries))
		}
		latest := fuzzNow.Add(maxFutureSkew).Unix()
		for _, b := range list.Backups {
			if b.CreationTime <= 0 || b.CreationTime > latest {
				t.Errorf("creation_time %d kept", b.CreationTime)
			}
			if b.SizeBytes < 0 || b.SizeUnknown && b.SizeBytes != 0 {
				t.Errorf("size %d (unknown: %v) kept", b.SizeBytes, b.SizeUnknown)
			}
			if b.State != strings.ToLower(strings.TrimSpace(b.State)) || len(b.State) > maxStateBytes {
				t.Errorf("state %q not normalised", b.State)
			}
		}
		again, err := DecodeBackups(body, fuzzNow)
		if err != nil || !reflect.DeepEqual(list, again) {
			t.Errorf("decoding the same answer twice differs")
		}
	})
}

func FuzzDecodeDatabases(f *testing.F) {
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `[null, 1, "a", {}]`,
		`[{"database_id":"d1","database_name":"orders","region":"eu-west-1","primary_region":"eu-west-1","type":"pro","state":"active","creation_time":1700000000,"daily_backup_enabled":true,"password":"p","rest_token":"t"}]`,
		`[{"database_id":12,"database_name":true,"daily_backup_enabled":"true","creation_time":"1700000000000"},{"database_id":"d1"},{"database_id":"d1"}]`,
		`{"database_id":"d1","database_name":"orders"}`, `{"database_id":""}`, `{"database_id":{"x":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dbs, err := DecodeDatabases(body)
		if err != nil {
			if len(err.Error()) > maxReason {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		} else {
			for _, db := range dbs {
				if db.ID == "" {
					t.Errorf("database without an id kept: %+v", db)
				}
			}
			if again, _ := DecodeDatabases(body); !reflect.DeepEqual(dbs, again) {
				t.Errorf("decoding the same answer twice differs")
			}
		}

		// Like list-backup, list-databases accepts exactly the JSON
		// arrays and null (entries over maxEntryBytes aside).
		var entries []json.RawMessage
		trimmed := bytes.TrimSpace(body)
		isArray := string(trimmed) == "null" || json.Unmarshal(trimmed, &entries) == nil
		if err != nil && isArray || err == nil && !isArray && len(body) < maxEntryBytes {
			t.Errorf("decoded: %v; a JSON array: %v; body %q", err, isArray, body)
		}
	})
}
