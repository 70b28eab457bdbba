package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// Keys that appear in the fixtures; no error may contain them.
var fixtureKeys = []string{"secret-key-9999", "file-key-0001", "inline-key-0002", "env-key-0003"}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadConfigRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"bad-api-key-not-scalar.yml": `testdata/bad-api-key-not-scalar.yml:5: accounts[0].api_key: want a string, got a mapping
testdata/bad-api-key-not-scalar.yml:8: accounts[1].api_key: want a string, got a list`,
		"bad-api-url.yml": `testdata/bad-api-url.yml:5: accounts[0].api_url: scheme must be http or https, got "ftp"
testdata/bad-api-url.yml:9: accounts[1].api_url: must not contain credentials; use email and api_key_file
testdata/bad-api-url.yml:13: accounts[2].api_url: scheme must be http or https, got ""`,
		"bad-blank-key.yml":                `testdata/bad-blank-key.yml:4: accounts[0].api_key: empty`,
		"bad-both-keys.yml":                `testdata/bad-both-keys.yml:5: accounts[0].api_key_file: api_key and api_key_file are mutually exclusive`,
		"bad-database-in-two-accounts.yml": `testdata/bad-database-in-two-accounts.yml:11: accounts[1].databases[0].id: duplicate database id "abc" (also accounts[0].databases[0])`,
		"bad-duplicate-account.yml":        `testdata/bad-duplicate-account.yml:5: accounts[1].name: duplicate account name "a" (also accounts[0])`,
		"bad-duplicate-database.yml":       `testdata/bad-duplicate-database.yml:7: accounts[0].databases[1].id: duplicate database id "abc" (also accounts[0].databases[0])`,
		"bad-duplicate-key.yml":            `testdata/bad-duplicate-key.yml:5: accounts[0].name: duplicate key (also line 2)`,
		"bad-duration.yml":                 `testdata/bad-duration.yml:10: accounts[1].databases[0].expected_interval: unknown unit "x" in duration "1x"`,
		"bad-empty-databases.yml":          `testdata/bad-empty-databases.yml:5: accounts[0].databases: empty list; omit databases to watch every database of the account`,
		"bad-dot-id.yml": `testdata/bad-dot-id.yml:6: accounts[0].databases[0].id: "." is not a database id: a URL path would normalise it away
testdata/bad-dot-id.yml:7: accounts[0].databases[1].id: ".." is not a database id: a URL path would normalise it away`,
		"bad-empty-id.yml": `testdata/bad-empty-id.yml:6: accounts[0].databases[0].id: missing`,
		"bad-http-client-credentials.yml": `testdata/bad-http-client-credentials.yml:6: accounts[0].http_client_config.basic_auth: not allowed: the exporter sends email and the API key (api_key_file or api_key) as Basic auth itself
testdata/bad-http-client-credentials.yml:14: accounts[1].http_client_config.bearer_token_file: not allowed: the exporter sends email and the API key (api_key_file or api_key) as Basic auth itself
testdata/bad-http-client-credentials.yml:15: accounts[1].http_client_config.authorization: not allowed: the exporter sends email and the API key (api_key_file or api_key) as Basic auth itself`,
		"bad-http-client-unknown-field.yml": `testdata/bad-http-client-unknown-field.yml:7: accounts[0].http_client_config.follow_redirect: unknown field`,
		"bad-proxy-url.yml": `testdata/bad-proxy-url.yml:6: accounts[0].http_client_config.proxy_url: want an absolute URL such as http://proxy.example.com:3128 (scheme http, https or socks5)
testdata/bad-proxy-url.yml:11: accounts[1].http_client_config.proxy_url: invalid URL: invalid character " " in host name
testdata/bad-proxy-url.yml:16: accounts[2].http_client_config: if no_proxy is configured, proxy_url must also be configured`,
		"bad-tls-config.yml": `testdata/bad-tls-config.yml:8: accounts[0].http_client_config.tls_config.min_version: unknown TLS version: TLS14
testdata/bad-tls-config.yml:14: accounts[1].http_client_config.tls_config: unable to read CA cert: unable to read file testdata/missing-ca.pem: open testdata/missing-ca.pem: no such file or directory`,
		"bad-empty-key-file.yml":          `testdata/bad-empty-key-file.yml:4: accounts[0].api_key_file: file "empty.key" is empty`,
		"bad-empty.yml":                   `testdata/bad-empty.yml: accounts: no accounts configured`,
		"bad-missing-key-file.yml":        `testdata/bad-missing-key-file.yml:4: accounts[0].api_key_file: stat testdata/missing.key: no such file or directory`,
		"bad-key-file-is-a-directory.yml": `testdata/bad-key-file-is-a-directory.yml:4: accounts[0].api_key_file: testdata/key.d: not a regular file (a directory)`,
		"bad-negative-duration.yml": `testdata/bad-negative-duration.yml:7: accounts[0].databases[0].expected_interval: must be positive, got -1h
testdata/bad-negative-duration.yml:9: accounts[0].databases[1].expected_interval: must be positive, got 0s`,
		"bad-retention.yml": `testdata/bad-retention.yml:5: accounts[0].required_retention: must be positive, got 0s
testdata/bad-retention.yml:8: accounts[0].databases[0].required_retention: unknown unit "days" in duration "7days"`,
		"bad-no-accounts.yml": `testdata/bad-no-accounts.yml:1: accounts: no accounts configured`,
		"bad-no-email.yml":    `testdata/bad-no-email.yml:2: accounts[0].email: missing (set it or UPSTASH_EMAIL)`,
		"bad-no-key.yml":      `testdata/bad-no-key.yml:2: accounts[0].api_key: missing: set api_key_file, api_key or UPSTASH_API_KEY`,
		"bad-no-name.yml":     `testdata/bad-no-name.yml:2: accounts[0].name: missing`,
		"bad-not-mapping.yml": `testdata/bad-not-mapping.yml:1: want a mapping, got a list`,
		// A value of the wrong type is not quoted: it may be a key.
		"bad-http-client-wrong-type.yml": `testdata/bad-http-client-wrong-type.yml:6: accounts[0].http_client_config.follow_redirects: want true or false
testdata/bad-http-client-wrong-type.yml:8: accounts[0].http_client_config.tls_config.insecure_skip_verify: want true or false
testdata/bad-http-client-wrong-type.yml:9: accounts[0].http_client_config.tls_config.server_nam: unknown field
testdata/bad-http-client-wrong-type.yml:11: accounts[0].http_client_config.enable_http2: duplicate key (also line 10)
testdata/bad-http-client-wrong-type.yml:12: accounts[0].unknown_top: unknown field`,
		"bad-regexp.yml": "testdata/bad-regexp.yml:5: accounts[0].include: error parsing regexp: missing closing ): `(prod`\n" +
			"testdata/bad-regexp.yml:6: accounts[0].exclude: error parsing regexp: invalid character class range: `z-a`",
		// A syntax error as the YAML library words it.
		"bad-syntax.yml":        `testdata/bad-syntax.yml: yaml: line 1: did not find expected '-' indicator`,
		"bad-two-documents.yml": `testdata/bad-two-documents.yml:5: more than one YAML document`,
		"bad-unknown-field.yml": `testdata/bad-unknown-field.yml:7: accounts[0].databases[0].intervall: unknown field`,
		"bad-wrong-type.yml":    `testdata/bad-wrong-type.yml:5: accounts[0].databases: want a list, got !!str`,
	}
	files, err := filepath.Glob("testdata/bad-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d bad fixtures, %d test cases: every fixture needs its expected error", len(files), len(tests))
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(filepath.Join("testdata", name), env(nil))
			if err == nil {
				t.Fatalf("LoadConfig accepted the file:\n%s", cfg.String())
			}
			if got := err.Error(); got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
			// What could be read comes back with the error, for the
			// caller to redact the keys it names.
			if cfg != nil {
				for _, a := range cfg.Accounts {
					if a.APIKey != "" && !slices.Contains(fixtureKeys, string(a.APIKey)) {
						t.Errorf("partial configuration holds key %q, not one of the file's", a.APIKey)
					}
				}
			}
			for _, key := range fixtureKeys {
				if strings.Contains(err.Error(), key) {
					t.Errorf("error contains the API key %q", key)
				}
			}
		})
	}
}

// A file that fails validation still gives the keys it could read, so that
// whatever prints its error can redact them.
func TestRejectedConfigKeepsItsKeys(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/bad-wrong-type.yml", env(nil))
	if err == nil || cfg == nil || len(cfg.Accounts) != 1 || cfg.Accounts[0].APIKey != "secret-key-9999" {
		t.Errorf("got %v, %v: want the account and its key with the error", cfg, err)
	}
	if cfg, err := Load("testdata/bad-syntax.yml", env(nil)); err == nil || cfg != nil {
		t.Errorf("a file that does not parse gave %v, %v", cfg, err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/good.yml", env(map[string]string{
		EnvEmail:  "env@example.com",
		EnvAPIKey: "env-key-0003",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 3 {
		t.Fatalf("%d accounts, want 3", len(cfg.Accounts))
	}
	prod, staging, team := cfg.Accounts[0], cfg.Accounts[1], cfg.Accounts[2]

	// Key file content is trimmed; inline and environment keys are used as given.
	for _, c := range []struct {
		account      Account
		key, source  string
		email, esrc  string
		discovers    bool
		includeMatch string
	}{
		{prod, "file-key-0001", "api_key_file key.txt", "ops@example.com", "email", false, ""},
		{staging, "inline-key-0002", "api_key", "env@example.com", EnvEmail, true, "prod-orders"},
		{team, "env-key-0003", EnvAPIKey, "team@example.com", "email", true, "anything"},
	} {
		a := c.account
		if a.APIKey != promconfig.Secret(c.key) || a.APIKeySource != c.source {
			t.Errorf("%s: key source %q, want %q (key %v)", a.Name, a.APIKeySource, c.source, a.APIKey == promconfig.Secret(c.key))
		}
		if a.Email != c.email || a.EmailSource != c.esrc {
			t.Errorf("%s: email %q from %q, want %q from %q", a.Name, a.Email, a.EmailSource, c.email, c.esrc)
		}
		if a.Discovers() != c.discovers {
			t.Errorf("%s: Discovers() = %v", a.Name, a.Discovers())
		}
		if c.includeMatch != "" && !a.Watches(c.includeMatch) {
			t.Errorf("%s: does not watch %q", a.Name, c.includeMatch)
		}
	}
	if staging.RequiredRetention != 7*24*time.Hour || prod.RequiredRetention != 0 {
		t.Errorf("required_retention: %s, %s", prod.RequiredRetention, staging.RequiredRetention)
	}
	if prod.APIURL != "https://api.upstash.com/v2" || staging.APIURL != "" {
		t.Errorf("api_url: %q, %q", prod.APIURL, staging.APIURL)
	}
	// http_client_config is Prometheus' HTTPClientConfig with files
	// resolved against the configuration's directory, and redirects off
	// unless asked for; an account without it keeps the default transport.
	if hc := prod.HTTPClient; hc == nil || hc.ProxyURL.String() != "http://proxy.example.com:3128" ||
		hc.TLSConfig.CAFile != "testdata/ca.pem" || hc.FollowRedirects || !hc.EnableHTTP2 {
		t.Errorf("http_client_config: %+v", hc)
	}
	if staging.HTTPClient != nil || team.HTTPClient != nil {
		t.Errorf("accounts without http_client_config have one: %+v, %+v", staging.HTTPClient, team.HTTPClient)
	}
	want := []Database{
		{ID: "6gcqwafd-9627-4ec2-4g51-b1429h59c8d4", Name: "orders", ExpectedInterval: 24 * time.Hour, RequiredRetention: 72 * time.Hour},
		{ID: "second-db"},
	}
	if len(prod.Databases) != len(want) {
		t.Fatalf("databases: %+v", prod.Databases)
	}
	for i := range want {
		if prod.Databases[i] != want[i] {
			t.Errorf("databases[%d] = %+v, want %+v", i, prod.Databases[i], want[i])
		}
	}
	for name, watched := range map[string]bool{
		"prod-orders":         true,
		"prod-orders-scratch": false, // exclude wins
		"dev-orders":          false,
	} {
		if got := staging.Watches(name); got != watched {
			t.Errorf("staging watches %q = %v, want %v", name, got, watched)
		}
	}

	// Nothing that prints the configuration shows a key.
	out, err := yaml.Marshal(struct{ Key promconfig.Secret }{prod.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	printed := cfg.String() + string(out) + prod.String()
	for _, key := range fixtureKeys {
		if strings.Contains(printed, key) {
			t.Errorf("printed configuration contains the key %q:\n%s", key, printed)
		}
	}
	for _, s := range []string{
		`account "production"`, "6gcqwafd-9627-4ec2-4g51-b1429h59c8d4", `name "orders"`, "expected_interval 1d",
		`include "^prod-"`, `exclude "-scratch$"`, "https://api.upstash.com/v2 (default)",
		"api key: from api_key_file key.txt", "email: env@example.com (from UPSTASH_EMAIL)",
		"http_client_config: proxy_url http://proxy.example.com:3128, tls_config ca_file testdata/ca.pem, follow_redirects false",
		"required_retention 3d", "required_retention: 1w",
	} {
		if !strings.Contains(cfg.String(), s) {
			t.Errorf("Describe() lacks %q:\n%s", s, cfg.String())
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnv(env(map[string]string{EnvEmail: "env@example.com", EnvAPIKey: " env-key-0003\n"}))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if len(cfg.Accounts) != 1 || a.Name != "default" || a.Email != "env@example.com" || a.APIKey != "env-key-0003" || !a.Discovers() {
		t.Errorf("unexpected configuration: %s", cfg.String())
	}

	_, err = FromEnv(env(nil))
	want := "environment: UPSTASH_EMAIL: not set (needed without a configuration file)\n" +
		"environment: UPSTASH_API_KEY: not set (needed without a configuration file)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

// A key written with a YAML tag (!!int, !!float, !!bool) or looking like a
// number is read as the text written, and no error, even one about another
// field, quotes it.
func TestTaggedAPIKeys(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/tagged-keys.yml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"int": "12345678901234", "float": "1.50e3", "bool": "yes", "plain-number": "0x1F"}
	for _, a := range cfg.Accounts {
		if string(a.APIKey) != want[a.Name] || a.APIKeySource != "api_key" {
			t.Errorf("%s: key %q from %s, want %q", a.Name, a.APIKey, a.APIKeySource, want[a.Name])
		}
	}

	// The same keys next to mistakes: the errors quote none of them.
	data, err := os.ReadFile("testdata/tagged-keys.yml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.ReplaceAll(string(data), "email: ops@example.com", "email: [ops]")
	broken = strings.ReplaceAll(broken, "- id: abc", "- id: abc\n        expected_interval: !!int 5")
	_, err = Parse([]byte(broken), "broken.yml", env(nil))
	if err == nil {
		t.Fatal("broken configuration accepted")
	}
	for _, key := range want {
		if strings.Contains(err.Error(), key) {
			t.Errorf("error quotes the key %q:\n%v", key, err)
		}
	}

	// Any text is read under any tag, as written.
	for _, value := range []string{"!!bool secret-key-9999", "!!int secret-key-9999", "!!float secret-key-9999", "!!binary secret-key-9999"} {
		text := "accounts:\n  - name: a\n    email: ops@example.com\n    api_key: " + value + "\n"
		cfg, err := Parse([]byte(text), "tag.yml", env(nil))
		if err != nil || cfg.Accounts[0].APIKey != "secret-key-9999" {
			t.Errorf("api_key: %s: error %v", value, err)
		}
	}
	// Every string field is read as written under any tag, not only
	// api_key: an e-mail of "yes" is no boolean.
	cfg, err = Parse([]byte("accounts:\n  - name: !!int 7\n    email: !!bool yes\n    api_key: k3y-1234567890\n"), "tag.yml", env(nil))
	if err != nil || cfg.Accounts[0].Email != "yes" || cfg.Accounts[0].Name != "7" {
		t.Errorf("tagged strings: %v, %v", cfg, err)
	}
}

func TestExpectedIntervalInPrometheusDurations(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]time.Duration{
		"90m":   90 * time.Minute,
		"1d":    24 * time.Hour,
		"1w":    7 * 24 * time.Hour,
		"1h30m": 90 * time.Minute,
	} {
		yml := "accounts:\n  - name: a\n    email: ops@example.com\n    api_key: k3y-1234567890\n    databases:\n      - id: db\n        expected_interval: " + text + "\n"
		cfg, err := Parse([]byte(yml), "config.yml", env(nil))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := cfg.Accounts[0].Databases[0].ExpectedInterval; got != want {
			t.Errorf("expected_interval %s read as %s, want %s", text, got, want)
		}
	}
}
