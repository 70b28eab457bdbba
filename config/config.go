// Package config is the exporter's configuration: the file's schema and its
// validation (parse.go, httpclient.go), the accounts read from the
// environment when there is no file, the --config.check report (check.go),
// the bounded reads of the file and of api_key_file and the re-reading of a
// changed key file (files.go), and SafeConfig, the configuration in force
// with the reload metrics (safe.go).
//
// Everything here is resolved once, at load: the collector receives
// accounts whose keys are read, durations parsed and patterns compiled.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
)

// Environment variables that supply credentials, named as Upstash's own CLI
// names them.
const (
	EnvEmail  = "UPSTASH_EMAIL"
	EnvAPIKey = "UPSTASH_API_KEY"
)

// DefaultAccountName is the name of the single account read from the
// environment when there is no configuration file.
const DefaultAccountName = "default"

// Config is a loaded and validated configuration: what the exporter
// watches.
type Config struct {
	// Source names where the configuration came from: the file path, or
	// "environment".
	Source   string
	Accounts []Account
}

// Account is one Upstash account or team, reached with one Developer API
// key. Its Name is the account label of the metrics.
type Account struct {
	// Name is unique within a Config.
	Name  string
	Email string
	// APIKey is the Developer API key, already read from api_key_file or the
	// environment when it came from there. It marshals as <secret>.
	APIKey promconfig.Secret
	// APIKeySource says where the key came from, for --config.check output:
	// "api_key", "api_key_file <path>" or the environment variable's name.
	APIKeySource string
	// APIKeyFile is the file of api_key_file, resolved against the
	// configuration's directory; "" for a key from elsewhere. A KeySource
	// reads it again when it changes.
	APIKeyFile string
	// EmailSource is "email" or the environment variable's name.
	EmailSource string
	// APIURL is the Developer API base URL; empty means the client's default.
	APIURL string
	// Databases are the databases to watch. Nil means every database the
	// account lists, filtered by Include and Exclude.
	Databases []Database
	// Include and Exclude filter discovered databases by database_name.
	// Exclude wins. Nil means no filter. They do not apply when Databases
	// is set.
	Include, Exclude *regexp.Regexp
	// RequiredRetention is required_retention: how far back every database
	// of the account must be restorable, unless its own entry says
	// otherwise; 0 when not set.
	RequiredRetention time.Duration
	// HTTPClient is http_client_config: proxy, TLS and redirects of the
	// API calls, with relative file names resolved against the
	// configuration's directory. Nil keeps the default transport, which
	// honours HTTPS_PROXY and NO_PROXY. It never sets credentials.
	HTTPClient *promconfig.HTTPClientConfig
}

// Discovers reports whether the account watches every database it lists
// rather than a configured list.
func (a *Account) Discovers() bool { return a.Databases == nil }

// Watches reports whether a discovered database of this name is watched.
func (a *Account) Watches(databaseName string) bool {
	if a.Include != nil && !a.Include.MatchString(databaseName) {
		return false
	}
	return a.Exclude == nil || !a.Exclude.MatchString(databaseName)
}

// String names the account without its credentials, so that an Account
// printed by mistake shows no key.
func (a Account) String() string { return fmt.Sprintf("account %q", a.Name) }

// Database is one explicitly configured database.
type Database struct {
	ID string
	// Name, when set, overrides the API's database_name on
	// upstash_redis_database_info.
	Name string
	// ExpectedInterval is the configured backup cadence; 0 when not set.
	ExpectedInterval time.Duration
	// RequiredRetention is how far back the database must be restorable:
	// completed backups must reach back this far; 0 when not set.
	RequiredRetention time.Duration
}

// Error is one problem with a configuration: the file, the line where known
// (0 otherwise), the field path (for example
// accounts[1].databases[0].expected_interval) and what is wrong.
type Error struct {
	File string
	Line int
	Path string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates the configuration file at path. getenv
// (os.Getenv in main) supplies UPSTASH_EMAIL and UPSTASH_API_KEY for
// accounts that do not name their own. A relative api_key_file is read
// relative to the configuration file's directory.
//
// The returned error lists every problem found, each as an *Error, in the
// order of the file; it never contains an API key. With an error, the
// Config returned holds what could be read (nil if the file could not be
// read or parsed), so that the caller can redact the keys it names from
// whatever it prints; it must not be used otherwise.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := ReadSmallFile(path, MaxConfigFileSize)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(data, path, getenv)
}

// Parse is Load for a file already read; path names it in errors and
// anchors relative file names.
func Parse(data []byte, path string, getenv func(string) string) (*Config, error) {
	p := parser{file: path, dir: filepath.Dir(path), getenv: getenv}
	cfg := p.parse(data)
	return cfg, p.err()
}

// FromEnv is the configuration without a file: one account named "default"
// with the credentials of UPSTASH_EMAIL and UPSTASH_API_KEY, watching every
// database it lists.
func FromEnv(getenv func(string) string) (*Config, error) {
	const source = "environment"
	var errs []error
	email := strings.TrimSpace(getenv(EnvEmail))
	if email == "" {
		errs = append(errs, &Error{File: source, Path: EnvEmail, Err: errors.New("not set (needed without a configuration file)")})
	}
	key := strings.TrimSpace(getenv(EnvAPIKey))
	if key == "" {
		errs = append(errs, &Error{File: source, Path: EnvAPIKey, Err: errors.New("not set (needed without a configuration file)")})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Config{
		Source: source,
		Accounts: []Account{{
			Name:         DefaultAccountName,
			Email:        email,
			EmailSource:  EnvEmail,
			APIKey:       promconfig.Secret(key),
			APIKeySource: EnvAPIKey,
		}},
	}, nil
}
