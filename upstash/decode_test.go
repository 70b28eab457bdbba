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
	tests := []struct {
		name         string
		body         string
		want         []Backup
		wantProblems []DecodeProblem
		wantErr      string
	}{
		{name: "empty array", body: `[]`, want: []Backup{}},
		{name: "null is an empty list", body: ` null `, want: []Backup{}},
		{
			name: "spec example",
			body: `[{"database_id":"db1","customer_id":"example@upstash.com","name":"test","backup_id":"b1","creation_time":1757000716,"state":"pending","backup_size":0,"daily_backup":"false","hourly_backup":"false","internal_backup_tag":""}]`,
			want: []Backup{{DatabaseID: "db1", Name: "test", BackupID: "b1", CreationTime: 1757000716, State: "pending"}},
		},
		{
			name: "boolean flags and string flags",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"completed","backup_size":42,"daily_backup":true,"hourly_backup":"true"},
			       {"backup_id":"b2","creation_time":1757000717,"state":"completed","daily_backup":"TRUE","hourly_backup":false}]`,
			want: []Backup{
				{BackupID: "b1", CreationTime: 1757000716, State: "completed", SizeBytes: 42, DailyBackup: true, HourlyBackup: true},
				{BackupID: "b2", CreationTime: 1757000717, State: "completed", DailyBackup: true},
			},
		},
		{
			name: "older answers: backup_name, no tag, no flags",
			body: `[{"backup_id":"b1","backup_name":"old","creation_time":1757000716,"state":"completed"}]`,
			want: []Backup{{BackupID: "b1", Name: "old", CreationTime: 1757000716, State: "completed"}},
		},
		{
			name: "unknown and missing states are kept",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"Restoring"},{"backup_id":"b2","creation_time":1757000717}]`,
			want: []Backup{{BackupID: "b1", CreationTime: 1757000716, State: "restoring"}, {BackupID: "b2", CreationTime: 1757000717}},
		},
		{
			name: "numbers as strings and floats",
			body: `[{"backup_id":"b1","creation_time":"1757000716","state":"completed","backup_size":"123"},{"backup_id":"b2","creation_time":1757000717.9,"state":"completed","backup_size":12.7}]`,
			want: []Backup{
				{BackupID: "b1", CreationTime: 1757000716, State: "completed", SizeBytes: 123},
				{BackupID: "b2", CreationTime: 1757000717, State: "completed", SizeBytes: 12},
			},
		},
		{
			name: "milliseconds are converted",
			body: `[{"backup_id":"b1","creation_time":1757000716123,"state":"completed"}]`,
			want: []Backup{{BackupID: "b1", CreationTime: 1757000716, State: "completed"}},
		},
		{
			name: "unplaceable entries are skipped",
			body: `[42, {"backup_id":"b1","state":"completed"}, {"backup_id":"b2","creation_time":"soon"}, {"backup_id":"b3","creation_time":-5},
			        {"backup_id":"b4","creation_time":1864000000}, {"backup_id":"ok","creation_time":1757000716,"state":"failed"}]`,
			want: []Backup{{BackupID: "ok", CreationTime: 1757000716, State: "failed"}},
			wantProblems: []DecodeProblem{
				{Index: 0, Skipped: true, Reason: "entry is not a backup object: json: cannot unmarshal number into Go value of type upstash.wireBackup"},
				{Index: 1, Skipped: true, Reason: "creation_time: missing"},
				{Index: 2, Skipped: true, Reason: `creation_time: "soon" is not a number`},
				{Index: 3, Skipped: true, Reason: "creation_time: -5 is not a time"},
				{Index: 4, Skipped: true, Reason: "creation_time 1864000000 is more than 24h0m0s in the future"},
			},
		},
		{
			name: "bad sizes are read as zero",
			body: `[{"backup_id":"b1","creation_time":1757000716,"state":"completed","backup_size":-10},{"backup_id":"b2","creation_time":1757000716,"state":"completed","backup_size":"big"}]`,
			want: []Backup{{BackupID: "b1", CreationTime: 1757000716, State: "completed"}, {BackupID: "b2", CreationTime: 1757000716, State: "completed"}},
			wantProblems: []DecodeProblem{
				{Index: 0, Reason: "backup_size -10 is negative; read as 0"},
				{Index: 1, Reason: `backup_size: "big" is not a number; read as 0`},
			},
		},
		{
			name:         "duplicate backup ids keep the first",
			body:         `[{"backup_id":"b1","creation_time":1757000716,"state":"completed"},{"backup_id":"b1","creation_time":1757000999,"state":"failed"}]`,
			want:         []Backup{{BackupID: "b1", CreationTime: 1757000716, State: "completed"}},
			wantProblems: []DecodeProblem{{Index: 1, Skipped: true, Reason: `backup_id "b1" listed again`}},
		},
		{
			name: "invalid UTF-8 in strings is replaced, not fatal",
			body: "[{\"backup_id\":\"b\xff1\",\"name\":\"n\xfe\",\"creation_time\":1757000716,\"state\":\"completed\"}]",
			want: []Backup{{BackupID: "b\uFFFD1", Name: "n\uFFFD", CreationTime: 1757000716, State: "completed"}},
		},
		{name: "object", body: `{"error":"database not found"}`, wantErr: `expected a JSON array, got an error message: "database not found"`},
		{name: "plain object", body: `{"backups":[]}`, wantErr: "expected a JSON array, got a JSON object"},
		{name: "string", body: `"database not found"`, wantErr: `expected a JSON array, got an error message: "database not found"`},
		{name: "html", body: `<!doctype html>`, wantErr: "expected a JSON array, got HTML or XML"},
		{name: "empty", body: ``, wantErr: "empty answer, expected a JSON array"},
		{name: "truncated", body: `[{"backup_id":`, wantErr: "invalid JSON array: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeBackups([]byte(tt.body), decodeNow)
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
	if _, err := DecodeDatabase([]byte(`{"database_name":"x"}`)); err == nil || err.Error() != "answer has no database_id" {
		t.Errorf("DecodeDatabase without id: %v", err)
	}
}
