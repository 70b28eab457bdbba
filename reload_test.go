package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// gatedFake is a fake API whose latency waits are held until release is
// closed; each held wait is announced on entered.
func gatedFake(t *testing.T) (fake *upstashtest.Server, entered chan string, release chan struct{}) {
	t.Helper()
	entered = make(chan string, 16)
	release = make(chan struct{})
	fake = upstashtest.NewServer(upstashtest.WithSleep(func(ctx context.Context, _ time.Duration) error {
		entered <- "held"
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	t.Cleanup(fake.Close)
	return fake, entered, release
}

func waitEntered(t *testing.T, entered <-chan string) {
	t.Helper()
	select {
	case <-entered:
	case <-t.Context().Done():
		t.Fatal("the API call never started")
	}
}

// TestReloadDuringACollection reloads through POST /-/reload and SIGHUP
// while a collection waits on a list-backup call, then scrapes before that
// call ends: the reloads succeed at once, the scrape after them sees the
// new configuration, and the collection in flight still answers 200.
//
// Not parallel: SIGHUP goes to the whole test process, and so would reach
// the reload loops of other tests.
func TestReloadDuringACollection(t *testing.T) {
	// Whatever happens, a SIGHUP must not end the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(guard) })

	fake, entered, release := gatedFake(t)
	for _, id := range []string{"db-a", "db-b", "db-slow"} {
		fake.AddDatabase(upstashtest.Database{ID: id, Name: id})
		fake.SetBackups(id, upstashtest.GenerateBackups(id, 2, time.Now().Add(-time.Hour), 24*time.Hour))
	}
	fake.SetFault("db-slow", upstashtest.Fault{Latency: time.Hour})

	account := accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake)
	te := startInProcess(t, account+"    databases:\n      - id: db-a\n      - id: db-slow\n", nil)
	te.startReloadLoop(t)

	inFlight := make(chan string, 1)
	go func() {
		code, body, err := te.tryScrape(context.Background(), 30*time.Second)
		inFlight <- fmt.Sprintf("%d %v %s", code, err, body)
	}()
	waitEntered(t, entered)

	writeFile(t, te.cfg, account+"    databases:\n      - id: db-a\n      - id: db-b\n")
	if code, body := te.do(t, http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Fatalf("POST /-/reload during a collection answered %d: %s", code, body)
	}
	// The POST went through the reload loop, so its SIGHUP handler is
	// registered.
	mark := te.logs.Len()
	writeFile(t, te.cfg, account+"    databases:\n      - id: db-a\n      - id: db-b\n        name: renamed\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	te.logs.waitFor(t, mark, "the SIGHUP reload", func(s string) bool { return strings.Contains(s, "Configuration reloaded") })

	// db-slow's call still hangs; the new configuration no longer has it.
	got := series(te.scrapeWithin(t, 10*time.Second))
	for k, want := range map[string]string{
		`upstash_backup_exporter_collect_success{database_id="db-a"}`:                                                                                         "1",
		`upstash_backup_exporter_collect_success{database_id="db-b"}`:                                                                                         "1",
		`upstash_redis_database_info{account="main",database_id="db-b",database_name="renamed",plan="payg",primary_region="",region="global",state="active"}`: "1",
		`upstash_backup_exporter_config_last_reload_successful`:                                                                                               "1",
	} {
		if got[k] != want {
			t.Errorf("after the reloads %s = %q, want %s", k, got[k], want)
		}
	}
	if len(databaseSeries(got, "db-slow")) != 0 {
		t.Errorf("db-slow left the configuration but still has series: %v", databaseSeries(got, "db-slow"))
	}

	close(release)
	select {
	case res := <-inFlight:
		if !strings.HasPrefix(res, "200 <nil>") {
			t.Errorf("the collection in flight during the reloads ended with %.300s", res)
		}
	case <-t.Context().Done():
		t.Fatal("the collection in flight never answered")
	}
}

// TestReloadKeyFile: a key file that changes is read again on reload; one
// that is removed fails the reload and the old key stays in use.
func TestReloadKeyFile(t *testing.T) {
	t.Parallel()
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddDatabase(upstashtest.Database{ID: "db-k", Name: "orders"})

	keyFile := filepath.Join(t.TempDir(), "key")
	writeFile(t, keyFile, "not-the-key-7d1e\n")
	config := fmt.Sprintf("accounts:\n  - name: main\n    email: %s\n    api_key_file: %s\n    api_url: %s\n", upstashtest.DefaultEmail, keyFile, fake.URL)
	te := startInProcess(t, config, nil)
	te.startReloadLoop(t)

	check := func(when string, want map[string]string) {
		t.Helper()
		got := series(te.scrapeWithin(t, 10*time.Second))
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %s", when, k, got[k], v)
			}
		}
	}
	check("with the wrong key", map[string]string{`upstash_up{account="main"}`: "0"})

	writeFile(t, keyFile, upstashtest.DefaultAPIKey+"\n")
	if code, body := te.do(t, http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload after the key changed answered %d: %s", code, body)
	}
	check("after the key file changed", map[string]string{
		`upstash_up{account="main"}`:                                  "1",
		`upstash_backup_exporter_collect_success{database_id="db-k"}`: "1",
	})

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	code, body := te.do(t, http.MethodPost, "/-/reload")
	// The error names the field, the file and the cause, whichever call
	// (open or stat) met it.
	if code != http.StatusInternalServerError || !strings.Contains(body, "accounts[0].api_key_file: ") ||
		!strings.Contains(body, " "+keyFile+": no such file or directory") {
		t.Errorf("reload without the key file answered %d %q, want 500 naming accounts[0].api_key_file, %s and the cause", code, body, keyFile)
	}
	check("after the key file was removed", map[string]string{
		`upstash_up{account="main"}`:                                  "1",
		`upstash_backup_exporter_collect_success{database_id="db-k"}`: "1",
		`upstash_backup_exporter_config_last_reload_successful`:       "0",
	})
	assertNoSecret(t, te.logs.String()+body, upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
}

// TestReloadNotNeededForARotatedKey: the next call after the key file
// changed sends the new key, without a reload, and the new key is redacted
// from everything the exporter lets out before any call sends it, here an
// API that quotes it in its error answer.
func TestReloadNotNeededForARotatedKey(t *testing.T) {
	t.Parallel()
	const rotated = "rotated-key+7f3a/91c2&e5d0<8b46>="
	fake := upstashtest.New()
	t.Cleanup(fake.Close)
	fake.AddDatabase(upstashtest.Database{ID: "db-r", Name: "orders"})
	var mu sync.Mutex
	var sent []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, key, _ := r.BasicAuth()
		mu.Lock()
		sent = append(sent, key)
		mu.Unlock()
		if key == rotated {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"key ` + rotated + ` is not active yet"}`))
			return
		}
		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	rotate := func(key string) {
		t.Helper()
		writeFile(t, keyFile+".new", key+"\n")
		if err := os.Rename(keyFile+".new", keyFile); err != nil {
			t.Fatal(err)
		}
	}
	rotate(upstashtest.DefaultAPIKey)
	config := fmt.Sprintf("accounts:\n  - name: main\n    email: %s\n    api_key_file: %s\n    api_url: %s\n", upstashtest.DefaultEmail, keyFile, api.URL)
	te := startInProcess(t, config, nil)
	up := func(when, want string) {
		t.Helper()
		metrics := te.scrapeWithin(t, 10*time.Second)
		if got := series(metrics)[`upstash_up{account="main"}`]; got != want {
			t.Errorf("%s: upstash_up = %q, want %s", when, got, want)
		}
		assertNoSecret(t, metrics, upstashtest.DefaultEmail, rotated)
	}
	lastSent := func() string {
		mu.Lock()
		defer mu.Unlock()
		return sent[len(sent)-1]
	}

	up("with the first key", "1")
	rotate(rotated)
	up("after the rotation", "0")
	if lastSent() != rotated {
		t.Error("the call after the rotation did not send the new key")
	}
	// Whatever logs it, main's redaction knows the new key.
	te.logger.Error("probe", "value", rotated)
	rotate(upstashtest.DefaultAPIKey)
	up("after rotating back", "1")

	logs := te.logs.String()
	assertNoSecret(t, logs, upstashtest.DefaultEmail, rotated)
	if !strings.Contains(logs, "api_key_file changed") || !strings.Contains(logs, redact.Placeholder) {
		t.Errorf("the rotation or the redacted echo is not in the log:\n%s", logs)
	}
}
