package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash/upstashtest"
)

// TestSecretsNeverLeakFromErrors complements TestSecretsNeverLeak (which
// runs the binary) with every error path in-process: an API that echoes the
// credentials in error answers, a rejected key, a bad file on reload and at
// start, and --config.check, with logs at debug level in both formats. The
// keys, and the base64 of email:key that Basic auth sends, must appear in
// none of the logs, pages and error texts.
func TestSecretsNeverLeakFromErrors(t *testing.T) {
	t.Parallel()
	const (
		email    = "secrets@example.com"
		rightKey = "right-key-5c1d9e7a3b0f2468"
		wrongKey = "wrong-key-8e2f4a6c0d1b3579"
	)
	basic := func(key string) string { return base64.StdEncoding.EncodeToString([]byte(email + ":" + key)) }
	echo := "key " + rightKey + " / Basic " + basic(rightKey)

	fake := upstashtest.NewServer(upstashtest.WithCredentials(email, rightKey))
	t.Cleanup(fake.Close)
	for i, f := range []upstashtest.Fault{
		{Status: 401, Body: []byte(`{"error":"` + echo + `"}`)},
		{Status: 500, Body: []byte("<html>" + echo + "</html>"), ContentType: "text/html"},
		{Status: 200, Body: []byte(`{"error":"` + echo + `"}`)},
		{Status: 429, Body: []byte(`"` + echo + `"`)},
	} {
		id := fmt.Sprintf("db-%d", i)
		fake.AddDatabase(upstashtest.Database{ID: id, Name: id})
		fake.SetFault(id, f)
	}
	fake.AddDatabase(upstashtest.Database{ID: "db-echo", Name: "echo"})
	fake.SetRawBackups("db-echo", []byte(`[{"backup_id":"`+rightKey+`","creation_time":"`+rightKey+`"},{"backup_id":"x","creation_time":1764000000,"backup_size":"`+basic(rightKey)+`"}]`))

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, rightKey+"\n")
	good := fmt.Sprintf("accounts:\n  - name: right\n    email: %s\n    api_key_file: %s\n    api_url: %s\n  - name: wrong\n    email: %s\n    api_key: %s\n    api_url: %s\n",
		email, keyFile, fake.URL, email, wrongKey, fake.URL)
	bad := fmt.Sprintf("accounts:\n  - name: right\n    email: %s\n    api_key: %s\n    api_url: %s\n    colour: %s\n  - name: right\n    email: %s\n    api_key: \"  \"\n    api_key_file: %s\n",
		email, rightKey, fake.URL, wrongKey, email, keyFile)

	var seen []string
	for _, format := range []string{"json", "text"} {
		te := startInProcess(t, good, func(o *options) { o.logFormat = format })
		te.startReloadLoop(t)
		metrics := te.scrapeWithin(t, 10*time.Second)
		if !strings.Contains(metrics, `upstash_up{account="wrong"} 0`) {
			t.Errorf("the wrong key was not rejected:\n%s", metrics)
		}
		seen = append(seen, metrics)
		for _, path := range []string{"/", "/-/healthy", "/-/ready"} {
			_, body := te.do(t, http.MethodGet, path)
			seen = append(seen, body)
		}
		writeFile(t, te.cfg, bad)
		code, body := te.do(t, http.MethodPost, "/-/reload")
		if code != http.StatusInternalServerError || !strings.Contains(body, "colour") {
			t.Errorf("reload of a bad file answered %d: %s", code, body)
		}
		seen = append(seen, body, te.logs.String())
		if !strings.Contains(te.logs.String(), "Listing backups failed") {
			t.Errorf("the failures were not logged:\n%s", te.logs)
		}
	}

	// --config.check and a bad file at start, through run.
	goodFile, badFile := filepath.Join(dir, "good.yml"), filepath.Join(dir, "bad.yml")
	writeFile(t, goodFile, good)
	writeFile(t, badFile, bad)
	for _, args := range [][]string{
		{"--config.file=" + goodFile, "--config.check", "--log.level=debug"},
		{"--config.file=" + badFile, "--config.check", "--log.level=debug"},
		{"--config.file=" + badFile, "--log.level=debug", "--web.listen-address=127.0.0.1:0"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr, func(string) string { return "" })
		if wantCode := map[bool]int{true: 0, false: 1}[args[0] == "--config.file="+goodFile]; code != wantCode {
			t.Errorf("run %v = %d, want %d:\n%s%s", args, code, wantCode, &stdout, &stderr)
		}
		seen = append(seen, stdout.String()+stderr.String())
	}

	for _, text := range seen {
		assertNoSecret(t, text, email, rightKey)
		assertNoSecret(t, text, email, wrongKey)
	}
}
