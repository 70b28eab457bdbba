package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
)

// TestKeySourceRereadsAChangedFile: a key file replaced by a rename or
// rewritten in place gives its new key to the next call, told to learn
// first; a file that cannot be read keeps the last key and is logged once;
// no log holds a key.
func TestKeySourceRereadsAChangedFile(t *testing.T) {
	t.Parallel()
	const email = "ops@example.com"
	keys := []string{"key-one-00000001", "key-two-00000002", "key-three-000003", "key-four-0000004"}
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// replace writes another file and renames it over the key file, as
	// secret managers do.
	replace := func(content string) {
		t.Helper()
		tmp := filepath.Join(dir, "key.new")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(keys[0] + "\n")

	var logs bytes.Buffer
	var mu sync.Mutex
	var learnt []string
	k := NewKeySource(Account{Email: email, APIKey: "key-one-00000001", APIKeyFile: path},
		slog.New(slog.NewTextHandler(&logs, nil)),
		func(c redact.Credential) {
			mu.Lock()
			defer mu.Unlock()
			if c.User != email {
				t.Errorf("learnt a key of %q", c.User)
			}
			learnt = append(learnt, c.Key)
		})
	expect := func(when, want string, nLearnt int) {
		t.Helper()
		if got := k.Key(); got != want {
			t.Errorf("%s: key %q, want %q", when, got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(learnt) != nLearnt || nLearnt > 0 && learnt[nLearnt-1] != want {
			t.Errorf("%s: learnt %q, want %d keys ending with %q", when, learnt, nLearnt, want)
		}
	}

	expect("unchanged", keys[0], 0)
	replace(keys[1] + "\n")
	expect("after a rename over the file", keys[1], 1)
	// Same size, written in place; the modification time moves on.
	write(keys[2] + "\n")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	expect("after a rewrite in place", keys[2], 2)
	expect("unchanged again", keys[2], 2)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect("file removed", keys[2], 2)
	write("  \n")
	expect("file empty", keys[2], 2)
	if n := strings.Count(logs.String(), "Could not read api_key_file again"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, &logs)
	}
	replace(keys[3])
	expect("file back", keys[3], 3)

	for _, key := range keys {
		if strings.Contains(logs.String(), key) {
			t.Errorf("the log holds %q:\n%s", key, &logs)
		}
	}
	if n := strings.Count(logs.String(), "api_key_file changed"); n != 3 {
		t.Errorf("%d changes logged, want 3:\n%s", n, &logs)
	}

	// A key from elsewhere never changes and reads nothing.
	fixed := NewKeySource(Account{Email: email, APIKey: "inline-key-0002"}, slog.New(slog.DiscardHandler), nil)
	if got := fixed.Key(); got != "inline-key-0002" {
		t.Errorf("fixed key %q", got)
	}
}
