package upstash

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var decodeNow = time.Unix(1764000000, 0) // 2025-11-24

func TestDecodeBackups(t *testing.T) {
	t.Parallel()
	big := `{"backup_id":"big","creation_time":1757000716,"name":"` + strings.Repeat("x", maxEntryBytes) + `"}`
	tests := []struct {
		name         string
		body         string
		databaseID   string
		want         []Backup
		wantProblems []DecodeProblem
		wantErr      string
	}{
		{name: "empty array", body: `[]`, want: []Backup{}},
		{name: "null is an empty list", body: ` null `, want: []Backup{}},
		{name: "any Unicode space around the answer", body: "\v\u00a0[ ]\f\u2028", want: []Backup{}},
		{
			name: "spec example",
			body: `[{"database_id":"db1","customer_id":"example@upstash.com","name":"test","backup_id":"b1","creation_time":1757000716,"state":"pending","backup_size":0,"daily_backup":"false","hourly_backup":"false","internal_backup_tag":""}]`,
			want: []Backup{{CreationTime: 1757000716, State: "pending"}},
		},
		{
			name: "boolean flags and string flags",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"completed","backup_size":42,"daily_backup":true,"hourly_backup":"true"},
			       {"backup_id":"b2","creation_time":1757000717,"state":"completed","daily_backup":"TRUE","hourly_backup":false}]`,
			want: []Backup{
				{CreationTime: 1757000716, State: "completed", SizeBytes: 42, DailyBackup: true, HourlyBackup: true},
				{CreationTime: 1757000717, State: "completed", DailyBackup: true},
			},
		},
		{
			name: "older answers: backup_name, no tag, no flags",
			body: `[{"backup_id":"b1","backup_name":"old","creation_time":1757000716,"state":"completed"}]`,
			want: []Backup{{CreationTime: 1757000716, State: "completed"}},
		},
		{
			name: "unknown and missing states are kept",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"Restoring"},{"backup_id":"b2","creation_time":1757000717},
			        {"backup_id":"b3","creation_time":1757000718,"state":" RESTORING "},{"creation_time":1757000719,"state":"` + strings.Repeat("s", 100) + `"}]`,
			want: []Backup{{CreationTime: 1757000716, State: "restoring"}, {CreationTime: 1757000717}, {CreationTime: 1757000718, State: "restoring"}, {CreationTime: 1757000719, State: "unknown"}},
		},
		{
			name: "numbers as strings and floats",
			body: `[{"backup_id":"b1","creation_time":"1757000716","state":"completed","backup_size":"123"},{"backup_id":"b2","creation_time":1757000717.9,"state":"completed","backup_size":12.7}]`,
			want: []Backup{
				{CreationTime: 1757000716, State: "completed", SizeBytes: 123},
				{CreationTime: 1757000717, State: "completed", SizeBytes: 12},
			},
		},
		{
			name: "milliseconds are converted",
			body: `[{"backup_id":"b1","creation_time":1757000716123,"state":"completed"}]`,
			want: []Backup{{CreationTime: 1757000716, State: "completed"}},
		},
		{
			name: "unplaceable entries are skipped",
			body: `[42, {"backup_id":"b1","state":"completed"}, {"backup_id":"b2","creation_time":"soon"}, {"backup_id":"b3","creation_time":-5},
			        {"backup_id":"b4","creation_time":1864000000}, {"backup_id":"ok","creation_time":1757000716,"state":"failed"}, {"creation_time":9.3e18}]`,
			want: []Backup{{CreationTime: 1757000716, State: "failed"}},
			wantProblems: []DecodeProblem{
				{Index: 0, Skipped: true, Kind: ProblemNotObject, Reason: "entry is not a backup object: json: cannot unmarshal number into Go value of type upstash.wireBackup"},
				{Index: 1, Skipped: true, Kind: ProblemCreationTime, Reason: "creation_time: missing"},
				{Index: 2, Skipped: true, Kind: ProblemCreationTime, Reason: `creation_time: "soon" is not a number`},
				{Index: 3, Skipped: true, Kind: ProblemCreationTime, Reason: "creation_time: -5 is not a time"},
				{Index: 4, Skipped: true, Kind: ProblemFuture, Reason: "creation_time 1864000000 is more than 24h0m0s in the future"},
				{Index: 6, Skipped: true, Kind: ProblemCreationTime, Reason: "creation_time: 9.3e18 is out of range"},
			},
		},
		{
			name: "unreadable sizes are unknown, never 0 or wrapped",
			body: `[{"creation_time":1757000716,"backup_size":-10},{"creation_time":1757000716,"backup_size":"big"},
			        {"creation_time":1757000716,"backup_size":9223372036854775808},{"creation_time":1757000716,"backup_size":9.223372036854775807e18},
			        {"creation_time":1757000716,"backup_size":"1e300"},{"creation_time":1757000716,"backup_size":{"b":1}},
			        {"creation_time":1757000716,"backup_size":9223372036854775807},{"creation_time":1757000716,"backup_size":null},{"creation_time":1757000716}]`,
			want: []Backup{
				{CreationTime: 1757000716, SizeUnknown: true}, {CreationTime: 1757000716, SizeUnknown: true},
				{CreationTime: 1757000716, SizeUnknown: true}, {CreationTime: 1757000716, SizeUnknown: true},
				{CreationTime: 1757000716, SizeUnknown: true}, {CreationTime: 1757000716, SizeUnknown: true},
				{CreationTime: 1757000716, SizeBytes: 9223372036854775807}, {CreationTime: 1757000716}, {CreationTime: 1757000716},
			},
			wantProblems: []DecodeProblem{
				{Index: 0, Kind: ProblemBackupSize, Reason: "backup_size -10 is negative; size unknown"},
				{Index: 1, Kind: ProblemBackupSize, Reason: `backup_size: "big" is not a number; size unknown`},
				{Index: 2, Kind: ProblemBackupSize, Reason: "backup_size: 9223372036854775808 is out of range; size unknown"},
				{Index: 3, Kind: ProblemBackupSize, Reason: "backup_size: 9.223372036854775807e18 is out of range; size unknown"},
				{Index: 4, Kind: ProblemBackupSize, Reason: `backup_size: "1e300" is out of range; size unknown`},
				{Index: 5, Kind: ProblemBackupSize, Reason: `backup_size: {"b":1} is not a number; size unknown`},
			},
		},
		{
			name: "a later, newer duplicate replaces the first",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"completed"},{"backup_id":"b1","creation_time":1757000999,"state":"failed"}]`,
			want: []Backup{{CreationTime: 1757000999, State: "failed"}},
			wantProblems: []DecodeProblem{
				{Index: 0, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b1" listed again; entry 1 is newer or in a worse state`},
			},
		},
		{
			name: "a later, older duplicate is skipped",
			body: `[{"backup_id":"b1","creation_time":1757000999,"state":"completed"},{"backup_id":"b1","creation_time":1757000716,"state":"failed"}]`,
			want: []Backup{{CreationTime: 1757000999, State: "completed"}},
			wantProblems: []DecodeProblem{
				{Index: 1, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b1" listed again; entry 0 is newer or in a worse state`},
			},
		},
		{
			name: "on a tie the worst state is kept",
			body: `[{"backup_id":"b","creation_time":1757000716,"state":"completed"},{"backup_id":"b","creation_time":1757000716,"state":"archived"},
			        {"backup_id":"b","creation_time":1757000716,"state":"failed"},{"backup_id":"b","creation_time":1757000716,"state":"pending"},
			        {"backup_id":"b","creation_time":1757000716,"state":"failed","backup_size":5}]`,
			want: []Backup{{CreationTime: 1757000716, State: "failed"}},
			wantProblems: []DecodeProblem{
				{Index: 0, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b" listed again; entry 1 is newer or in a worse state`},
				{Index: 1, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b" listed again; entry 2 is newer or in a worse state`},
				{Index: 3, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b" listed again; entry 2 is newer or in a worse state`},
				{Index: 4, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b" listed again; entry 2 is newer or in a worse state`},
			},
		},
		{
			name: "a duplicate with an unreadable size has one problem",
			body: `[{"backup_id":"b1","creation_time":1757000716,"backup_size":-1},{"backup_id":"b1","creation_time":1757000999,"backup_size":"x"},{"backup_id":"b1","creation_time":1757000000,"backup_size":-3}]`,
			want: []Backup{{CreationTime: 1757000999, SizeUnknown: true}},
			wantProblems: []DecodeProblem{
				{Index: 0, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b1" listed again; entry 1 is newer or in a worse state`},
				{Index: 1, Kind: ProblemBackupSize, Reason: `backup_size: "x" is not a number; size unknown`},
				{Index: 2, Skipped: true, Kind: ProblemDuplicate, Reason: `backup_id "b1" listed again; entry 1 is newer or in a worse state`},
			},
		},
		{
			name:       "entries of another database are skipped",
			databaseID: "db1",
			body: `[{"database_id":"db1","backup_id":"b1","creation_time":1757000716},{"database_id":"db2","backup_id":"b2","creation_time":1757000716},
			        {"backup_id":"b3","creation_time":1757000717},{"database_id":null,"creation_time":1757000718}]`,
			want: []Backup{{CreationTime: 1757000716}, {CreationTime: 1757000717}, {CreationTime: 1757000718}},
			wantProblems: []DecodeProblem{
				{Index: 1, Skipped: true, Kind: ProblemOtherDatabase, Reason: `database_id "db2" names another database`},
			},
		},
		{
			name: "an entry over 64 KiB is skipped unread",
			body: `[{"creation_time":1757000716},` + big + `,{"creation_time":1757000717},"` + strings.Repeat("[", maxEntryBytes) + `",` + strings.Repeat("9", maxEntryBytes+1) + `]`,
			want: []Backup{{CreationTime: 1757000716}, {CreationTime: 1757000717}},
			wantProblems: []DecodeProblem{
				{Index: 1, Skipped: true, Kind: ProblemTooLarge, Reason: "entry is larger than 64 KiB; not read"},
				{Index: 3, Skipped: true, Kind: ProblemTooLarge, Reason: "entry is larger than 64 KiB; not read"},
				{Index: 4, Skipped: true, Kind: ProblemTooLarge, Reason: "entry is larger than 64 KiB; not read"},
			},
		},
		{
			name: "brackets and escapes inside strings do not end an entry",
			body: `[{"backup_id":"]}\"\\","state":"[{","creation_time":1757000716},"]",{"creation_time":1757000717}]`,
			want: []Backup{{CreationTime: 1757000716, State: "[{"}, {CreationTime: 1757000717}},
			wantProblems: []DecodeProblem{
				{Index: 1, Skipped: true, Kind: ProblemNotObject, Reason: "entry is not a backup object: json: cannot unmarshal string into Go value of type upstash.wireBackup"},
			},
		},
		{
			name: "invalid UTF-8 in strings is replaced, not fatal",
			body: "[{\"backup_id\":\"b\xff1\",\"name\":\"n\xfe\",\"creation_time\":1757000716,\"state\":\"completed\"}]",
			want: []Backup{{CreationTime: 1757000716, State: "completed"}},
		},
		{name: "object", body: `{"error":"database not found"}`, wantErr: `expected a JSON array, got an error message: "database not found"`},
		{name: "plain object", body: `{"backups":[]}`, wantErr: "expected a JSON array, got a JSON object"},
		{name: "string", body: `"database not found"`, wantErr: `expected a JSON array, got an error message: "database not found"`},
		{name: "html", body: `<!doctype html>`, wantErr: "expected a JSON array, got HTML or XML"},
		{name: "null and more", body: `null x`, wantErr: "expected a JSON array, got text that is not a JSON array"},
		{name: "long object is not parsed", body: `{"error":"` + strings.Repeat("x ", maxErrorBody) + `"}`, wantErr: "expected a JSON array, got a JSON object"},
		{name: "empty", body: ``, wantErr: "empty answer, expected a JSON array"},
		{name: "only space", body: " \n\u00a0", wantErr: "empty answer, expected a JSON array"},
		{name: "truncated", body: `[{"backup_id":`, wantErr: "invalid JSON array: unexpected end of JSON input"},
		{name: "truncated after an entry", body: `[{"creation_time":1757000716},`, wantErr: "invalid JSON array: unexpected end of JSON input"},
		{name: "missing comma", body: `[1 2]`, wantErr: "invalid JSON array: unexpected '2' after entry 0"},
		{name: "trailing comma", body: `[1,]`, wantErr: "invalid JSON array: unexpected ']' at entry 1"},
		{name: "data after the array", body: `[] []`, wantErr: "invalid JSON array: data after the closing bracket"},
		{name: "invalid entry", body: `[{"creation_time":}]`, wantErr: "invalid JSON array: entry 0: invalid character '}' looking for beginning of value"},
		{name: "invalid literal", body: `[nul]`, wantErr: "invalid JSON array: entry 0: unexpected end of JSON input"},
		{name: "letters after a number", body: `[1x]`, wantErr: "invalid JSON array: entry 0: unexpected 'x' after a value"},
		{name: "letters after a literal", body: `[truex]`, wantErr: "invalid JSON array: entry 0: unexpected 'x' after a value"},
		{name: "two dots", body: `[1.2.3]`, wantErr: "invalid JSON array: entry 0: unexpected '.' after a value"},
		{name: "mismatched brackets", body: `[{]}]`, wantErr: "invalid JSON array: entry 0: invalid character ']' looking for beginning of object key string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeBackupStream(strings.NewReader(tt.body), decodeNow, tt.databaseID, nil)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Backups, tt.want) {
				t.Errorf("backups\n got: %+v\nwant: %+v", got.Backups, tt.want)
			}
			if !reflect.DeepEqual(got.Problems, tt.wantProblems) {
				t.Errorf("problems\n got: %+v\nwant: %+v", got.Problems, tt.wantProblems)
			}
			// The in-memory decoder is the same one.
			if tt.databaseID == "" {
				again, err := DecodeBackups([]byte(tt.body), decodeNow)
				if err != nil || !reflect.DeepEqual(again, got) {
					t.Errorf("DecodeBackups differs: %+v, %v", again, err)
				}
			}
		})
	}
}

func TestDecodeDatabasesIgnoresCredentials(t *testing.T) {
	t.Parallel()
	body := `[{"database_id":"db1","database_name":"orders","region":"global","primary_region":"us-east-1","type":"payg","state":"active",
	  "creation_time":1700000000,"daily_backup_enabled":true,"password":"hunter2","rest_token":"tok","read_only_rest_token":"ro"},
	  {"database_name":"no id"},
	  {"database_id":"db2","daily_backup_enabled":"false"}]`
	got, err := DecodeDatabases([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []Database{
		{ID: "db1", Name: "orders", Region: "global", PrimaryRegion: "us-east-1", Plan: "payg", State: "active", CreationTime: 1700000000, DailyBackupEnabled: true},
		{ID: "db2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("databases\n got: %+v\nwant: %+v", got, want)
	}
	if s := strings.Join([]string{got[0].Name, got[0].Region}, ""); strings.Contains(s, "hunter2") {
		t.Error("password decoded")
	}
	if _, err := DecodeDatabases([]byte(`{"error":"Unauthorized"}`)); err == nil {
		t.Error("object accepted as a database list")
	}
}
