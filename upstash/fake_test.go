package upstash_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// These tests run the client against the fake API, which serves the wire
// format of the published OpenAPI document.

func newFakeClient(t *testing.T, key string) (*upstash.Client, *upstashtest.Server) {
	t.Helper()
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	c, err := upstash.New(upstash.Config{BaseURL: fake.URL, Email: upstashtest.DefaultEmail, APIKey: key, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func TestClientAgainstFake(t *testing.T) {
	t.Parallel()
	c, fake := newFakeClient(t, upstashtest.DefaultAPIKey)
	fake.AddDatabase(upstashtest.Database{ID: "db1", Name: "orders", Plan: "pro", Region: "eu-west-1", DailyBackupEnabled: true, CreationTime: 1700000000})
	fake.SetBackups("db1", []upstashtest.Backup{
		{DatabaseID: "db1", BackupID: "b1", Name: "daily", CreationTime: 1764000000, State: "completed", BackupSize: 2048, DailyBackup: "true"},
		{DatabaseID: "db1", BackupID: "b2", Name: "hourly", CreationTime: 1764003600, State: "pending", HourlyBackup: "true", InternalBackupTag: "t"},
	})

	dbs, err := c.ListDatabases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantDB := upstash.Database{ID: "db1", Name: "orders", Plan: "pro", Region: "eu-west-1", State: "active", CreationTime: 1700000000, DailyBackupEnabled: true}
	if len(dbs) != 1 || dbs[0] != wantDB {
		t.Errorf("ListDatabases = %+v, want [%+v]", dbs, wantDB)
	}

	list, err := c.ListBackups(t.Context(), "db1")
	if err != nil {
		t.Fatal(err)
	}
	want := []upstash.Backup{
		{CreationTime: 1764000000, State: "completed", SizeBytes: 2048, DailyBackup: true},
		{CreationTime: 1764003600, State: "pending", HourlyBackup: true},
	}
	if !reflect.DeepEqual(list.Backups, want) || len(list.Problems) != 0 {
		t.Errorf("ListBackups = %+v, problems %v", list.Backups, list.Problems)
	}

	_, err = c.ListBackups(t.Context(), "no-such-db")
	var ae *upstash.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Body != "database not found" {
		t.Errorf("unknown database: %v", err)
	}
	// "../databases" must stay inside list-backup: the fake answers 404
	// for an unknown id, where reaching /redis/databases would answer 200.
	if _, err := c.ListBackups(t.Context(), "../databases"); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("escaped id reached another endpoint: %v", err)
	}
}

func TestWrongKeyIsAnAuthError(t *testing.T) {
	t.Parallel()
	c, fake := newFakeClient(t, "not-the-key")
	fake.AddDatabase(upstashtest.Database{ID: "db1"})
	for _, call := range []func() error{
		func() error { _, err := c.ListDatabases(t.Context()); return err },
		func() error { _, err := c.ListBackups(t.Context(), "db1"); return err },
	} {
		err := call()
		if !upstash.IsAuth(err) {
			t.Errorf("error = %v, want 401", err)
		}
	}
}
