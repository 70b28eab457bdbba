package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// TestSecretsNeverLeakFromErrors complements TestSecretsNeverLeak (which
// runs the binary) with every error path in-process: an API that echoes the
// credentials in error answers, a rejected key, a bad file on reload and at
// start, and --config.check, with logs at debug level in both formats. The
// keys, and the base64 of email:key that Basic auth sends, must appear in
// none of the logs, pages and error texts.
func TestSecretsNeverLeakFromErrors(t *testing.T) {
	t.Parallel()
	// The keys hold characters that every encoding changes, so that each
	// encoded form differs from the raw one.
	const (
		email    = "secrets@example.com"
		rightKey = "right-key+5c1d/9e7a&3b0f<2468>="
		wrongKey = "wrong-key+8e2f/4a6c&0d1b<3579>="
	)
	basic := func(key string) string { return base64.StdEncoding.EncodeToString([]byte(email + ":" + key)) }
	echo := "key " + rightKey + " / query " + url.QueryEscape(rightKey) + " / path " + url.PathEscape(rightKey) +
		" / html " + html.EscapeString(rightKey) + " / json " + jsonEscaped(rightKey) + " / Basic " + basic(rightKey)

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
	good := fmt.Sprintf("accounts:\n  - name: right\n    email: %s\n    api_key_file: %s\n    api_url: %s\n  - name: wrong\n    email: %s\n    api_key: %q\n    api_url: %s\n",
		email, keyFile, fake.URL, email, wrongKey, fake.URL)
	bad := fmt.Sprintf("accounts:\n  - name: right\n    email: %s\n    api_key: %q\n    api_url: %s\n    colour: %q\n  - name: right\n    email: %s\n    api_key: \"  \"\n    api_key_file: %s\n",
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

// secretForms is every encoding of key in which a text could carry it.
func secretForms(email, key string) map[string]string {
	forms := map[string]string{
		"API key":                key,
		"query-escaped key":      url.QueryEscape(key),
		"path-escaped key":       url.PathEscape(key),
		"lower-case escaped key": strings.ToLower(url.QueryEscape(key)),
		"HTML-escaped key":       html.EscapeString(key),
		"JSON-escaped key":       jsonEscaped(key),
		"base64 of the key":      base64.StdEncoding.EncodeToString([]byte(key)),
	}
	for name, enc := range map[string]*base64.Encoding{"": base64.StdEncoding, "URL-safe ": base64.URLEncoding, "unpadded ": base64.RawStdEncoding, "unpadded URL-safe ": base64.RawURLEncoding} {
		forms[name+"base64 of email:key"] = enc.EncodeToString([]byte(email + ":" + key))
	}
	return forms
}

// jsonEscaped is key as encoding/json writes it inside a string.
func jsonEscaped(key string) string {
	b, _ := json.Marshal(key)
	return string(b[1 : len(b)-1])
}

// TestIntKeyNeverLeaks: an api_key written as a YAML integer too long or
// zero-padded for one (so that YAML quotes it in its error), in a file that
// does not load, appears neither in the start-up error of run, nor in the
// log line of a failed reload, nor in the answer of POST /-/reload.
func TestIntKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	const (
		email  = "int@example.com"
		intKey = "07391548620314159265358979"
	)
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	// The file fails to load for another reason too (an unknown field), so
	// it fails whether or not an integer api_key is accepted.
	bad := fmt.Sprintf("accounts:\n  - name: main\n    email: %s\n    api_key: !!int %s\n    api_url: %s\n    colour: blue\n", email, intKey, fake.URL)
	badFile := filepath.Join(t.TempDir(), "bad.yml")
	writeFile(t, badFile, bad)

	var seen []string
	for _, args := range [][]string{
		{"--config.file=" + badFile, "--web.listen-address=127.0.0.1:0"},
		{"--config.file=" + badFile, "--config.check"},
		{"--config.file=" + badFile, "--web.listen-address=127.0.0.1:0", "--log.format=json"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != 1 || !strings.Contains(stderr.String(), badFile) {
			t.Errorf("run %v = %d, want 1 and an error naming the file:\n%s%s", args, code, &stdout, &stderr)
		}
		seen = append(seen, stdout.String()+stderr.String())
	}

	te := startInProcess(t, accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake), nil)
	te.startReloadLoop(t)
	mark := te.logs.Len()
	writeFile(t, te.cfg, bad)
	code, body := te.do(t, http.MethodPost, "/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, te.cfg) {
		t.Errorf("reload of the bad file answered %d: %s", code, body)
	}
	logged := te.logs.since(mark)
	if !strings.Contains(logged, "Could not reload the configuration") {
		t.Errorf("the failed reload was not logged:\n%s", logged)
	}
	seen = append(seen, body, logged)
	for _, text := range seen {
		assertNoSecret(t, text, email, intKey)
	}
}

// TestKeysNamedByAFailedFile: the keys of a configuration that does not
// load are found, as the exporter finds them (what config.Load still read,
// and the file's lines when it does not parse), and a FIFO or oversized
// file is not read.
func TestKeysNamedByAFailedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "key"), "\ufeffkey-from-a-file-0001\n")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	writeFile(t, big, strings.Repeat("x", config.MaxKeyFileSize+1))
	for name, c := range map[string]struct {
		config string
		keys   []string
	}{
		"tags and quotes": {
			"accounts:\n  - email: a@example.com\n    api_key: !!int 0123456789012\n  - api_key: \"quoted-key-0002\"\n  - api_key: 'single-key-0003' # note\n",
			[]string{"0123456789012", "quoted-key-0002", "single-key-0003"},
		},
		"key file": {"accounts:\n  - api_key_file: key\n  - api_key_file: fifo\n  - api_key_file: big\n", []string{"key-from-a-file-0001"}},
		"not YAML": {"accounts:\n  - api_key: plain-key-0004\n    databases: [\n", []string{"plain-key-0004"}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
		writeFile(t, path, c.config)
		getenv := func(k string) string { return map[string]string{"UPSTASH_API_KEY": "env-key-0005"}[k] }
		cfg, err := config.Load(path, getenv)
		if err == nil {
			t.Fatalf("%s: loaded", name)
		}
		r := redact.Join(configRedactor(cfg), keysNamedBy(options{configFile: path}, getenv))
		for _, k := range append(c.keys, "env-key-0005") {
			if got := r.String("<" + k + ">"); got != "<"+redact.Placeholder+">" {
				t.Errorf("%s: %q is not redacted: %q", name, k, got)
			}
		}
	}
	// The configuration file itself may be a FIFO: nothing blocks.
	if r := keysNamedBy(options{configFile: fifo}, func(string) string { return "" }); !r.Empty() {
		t.Error("a FIFO yielded keys")
	}
	if _, err := os.Stat(fifo); err != nil {
		t.Fatal(err)
	}
}
