package collector

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// TestShardsSplitTheDatabases: three shards over 300 discovered and 30
// configured databases read each database exactly once between them, their
// union is what one unsharded collector exports, and every shard exports
// the accounts' series.
func TestShardsSplitTheDatabases(t *testing.T) {
	t.Parallel()
	const shards = 3
	newAPIs := func() map[string]*stubAPI {
		disc, static := newStub(), newStub()
		for i := range 300 {
			id := fmt.Sprintf("disc-%03d", i)
			disc.databases = append(disc.databases, db(id, "name-"+id, "pro", true))
			disc.backups[id] = upstash.BackupList{Backups: []upstash.Backup{at(0, completed, 1)}}
		}
		for i := range 30 {
			id := fmt.Sprintf("static-%02d", i)
			static.backups[id] = upstash.BackupList{Backups: []upstash.Backup{at(0, completed, 1)}}
		}
		return map[string]*stubAPI{"disc": disc, "static": static}
	}
	var configured []config.Database
	for i := range 30 {
		configured = append(configured, config.Database{ID: fmt.Sprintf("static-%02d", i)})
	}
	accounts := []config.Account{
		{Name: "disc", Email: "ops@example.com", APIKey: "k1"},
		{Name: "static", Email: "ops@example.com", APIKey: "k2", Databases: configured},
	}
	successLine := regexp.MustCompile(`(?m)^upstash_backup_exporter_collect_success\{database_id="([^"]+)"\} 1$`)
	read := func(shard Shard) (map[string]bool, string, map[string]*stubAPI) {
		apis := newAPIs()
		c := newTestCollector(t, accounts, apis, Options{Now: newClock(t0).now, Shard: shard})
		text := collectText(t, t.Context(), c)
		ids := map[string]bool{}
		for _, m := range successLine.FindAllStringSubmatch(text, -1) {
			ids[m[1]] = true
		}
		return ids, text, apis
	}

	all, _, _ := read(Shard{})
	if len(all) != 330 {
		t.Fatalf("unsharded: %d databases read, want 330", len(all))
	}
	owner := map[string]int{}
	for i := range shards {
		ids, text, apis := read(Shard{Index: i, Count: shards})
		if len(ids) < 330/shards/2 {
			t.Errorf("shard %d reads %d of 330 databases: the hash does not spread them", i, len(ids))
		}
		for id := range ids {
			if prev, dup := owner[id]; dup {
				t.Errorf("%s is read by shards %d and %d", id, prev, i)
			}
			owner[id] = i
		}
		calls := 0
		for _, api := range apis {
			for id := range api.backups {
				calls += api.calls(id)
				if n := api.calls(id); n > 0 != ids[id] {
					t.Errorf("shard %d: %d list-backup calls for %s, which it reads: %v", i, n, id, ids[id])
				}
			}
		}
		if calls != len(ids) {
			t.Errorf("shard %d: %d list-backup calls for %d databases", i, calls, len(ids))
		}
		for _, line := range []string{`upstash_up{account="disc"} 1`, `upstash_up{account="static"} 1`, `upstash_redis_databases{account="disc"} 300`} {
			if !hasLine(text, line) {
				t.Errorf("shard %d lacks the account series %s", i, line)
			}
		}
		if strings.Contains(text, `database_id="`) && len(ids) == 0 {
			t.Errorf("shard %d exports database series without reading any", i)
		}
	}
	if len(owner) != len(all) {
		t.Errorf("the shards read %d databases together, one collector %d", len(owner), len(all))
	}
}

func TestShardOwnsIsStable(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "6gcqwafd-9627-4ec2-4g51-b1429h59c8d4", ""} {
		if !(Shard{}).Owns(id) || !(Shard{Count: 1}).Owns(id) {
			t.Errorf("an unsharded replica does not own %q", id)
		}
		owners := 0
		for i := range 5 {
			if (Shard{Index: i, Count: 5}).Owns(id) {
				owners++
			}
		}
		if owners != 1 {
			t.Errorf("%q is owned by %d of 5 shards", id, owners)
		}
	}
	// FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; modulo 3 that is 1. A change
	// of hash would move every database at an upgrade.
	if !(Shard{Index: 1, Count: 3}).Owns("a") {
		t.Error("the shard of database a moved: the hash changed")
	}
}
