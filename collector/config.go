package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// Environment variables that supply credentials, named as Upstash's own CLI
// names them.
const (
	EnvEmail  = "UPSTASH_EMAIL"
	EnvAPIKey = "UPSTASH_API_KEY"
)

// DefaultAccountName is the account label of the single account read from the
// environment when there is no configuration file.
const DefaultAccountName = "default"

// Config is a loaded and validated configuration: what the collector watches.
type Config struct {
	// Source names where the configuration came from: the file path, or
	// "environment".
	Source   string
	Accounts []Account
}

// Account is one Upstash account or team, reached with one Developer API key.
type Account struct {
	// Name is the account label; unique within a Config.
	Name  string
	Email string
	// APIKey is the Developer API key, already read from api_key_file or the
	// environment when it came from there. It marshals as <secret>.
	APIKey config.Secret
	// APIKeySource says where the key came from, for --config.check output:
	// "api_key", "api_key_file <path>" or the environment variable's name.
	APIKeySource string
	// APIKeyFile is the file of api_key_file, resolved against the
	// configuration's directory; "" for a key from elsewhere. Calls read
	// it again when it changes: see KeySource.
	APIKeyFile string
	// Key gives the key of each call: APIKey, or the content of
	// APIKeyFile once it changed. The Collector sets it on the Account it
	// passes to NewAPI; it is nil in a loaded Config.
	Key *KeySource
	// EmailSource is "email" or the environment variable's name.
	EmailSource string
	// APIURL is the Developer API base URL; empty means the client's default.
	APIURL string
	// Databases are the databases to watch. Nil means every database the
	// account lists, filtered by Include and Exclude.
	Databases []DatabaseConfig
	// Include and Exclude filter discovered databases by database_name.
	// Exclude wins. Nil means no filter. They do not apply when Databases
	// is set.
	Include, Exclude *regexp.Regexp
	// HTTPClient is http_client_config: proxy, TLS and redirects of the
	// API calls, with relative file names resolved against the
	// configuration's directory. Nil keeps the default transport, which
	// honours HTTPS_PROXY and NO_PROXY. It never sets credentials.
	HTTPClient *config.HTTPClientConfig
}

// Discovers reports whether the account watches every database it lists
// rather than a configured list.
func (a *Account) Discovers() bool { return a.Databases == nil }

// watches reports whether a discovered database of this name is watched.
func (a *Account) watches(databaseName string) bool {
	if a.Include != nil && !a.Include.MatchString(databaseName) {
		return false
	}
	return a.Exclude == nil || !a.Exclude.MatchString(databaseName)
}

// String names the account without its credentials, so that an Account
// printed by mistake shows no key.
func (a Account) String() string { return fmt.Sprintf("account %q", a.Name) }

// DatabaseConfig is one explicitly configured database.
type DatabaseConfig struct {
	ID string
	// Name, when set, overrides the API's database_name on
	// upstash_redis_database_info.
	Name string
	// ExpectedInterval is the configured backup cadence; 0 when not set.
	ExpectedInterval time.Duration
}

// The file schema as the YAML decoder sees it. Values are kept raw here and
// turned into the exported types by validation, which knows field paths and
// lines.
type fileConfig struct {
	Accounts []fileAccount `yaml:"accounts"`
}

type fileAccount struct {
	Name       string          `yaml:"name"`
	Email      string          `yaml:"email"`
	APIKey     keyScalar       `yaml:"api_key"`
	APIKeyFile string          `yaml:"api_key_file"`
	APIURL     string          `yaml:"api_url"`
	Databases  []fileDatabase  `yaml:"databases"`
	Include    string          `yaml:"include"`
	Exclude    string          `yaml:"exclude"`
	HTTPClient httpClientBlock `yaml:"http_client_config"`
}

// keyScalar is api_key as written: the text of a scalar whatever its tag,
// so that a key of digits (or one written !!int, !!float, !!bool) is
// neither turned into a number nor quoted by a decoder's type error. A
// value that is not a scalar is kept as its kind only, for an error that
// does not quote it.
type keyScalar struct {
	text string
	// notScalar names the kind of a value that is not a scalar; "" for a
	// scalar.
	notScalar string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (k *keyScalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() != "!!null" {
			k.text = n.Value
		}
	case yaml.MappingNode:
		k.notScalar = "a mapping"
	case yaml.SequenceNode:
		k.notScalar = "a list"
	default:
		k.notScalar = "not a single value"
	}
	return nil
}

type fileDatabase struct {
	ID               string `yaml:"id"`
	Name             string `yaml:"name"`
	ExpectedInterval string `yaml:"expected_interval"`
}

// ConfigError is one problem with a configuration: the file, the line where
// known (0 otherwise), the field path (for example
// accounts[1].databases[0].expected_interval) and what is wrong.
type ConfigError struct {
	File string
	Line int
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
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

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads and validates the configuration file at path. getenv
// (os.Getenv in main) supplies UPSTASH_EMAIL and UPSTASH_API_KEY for accounts
// that do not name their own. A relative api_key_file is read relative to the
// configuration file's directory.
//
// The returned error lists every problem found, each as a *ConfigError; it
// never contains an API key.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	data, err := ReadSmallFile(path, MaxConfigFileSize)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return ParseConfig(data, path, getenv)
}

// ParseConfig is LoadConfig for a file already read; path names it in errors
// and anchors relative api_key_file paths.
func ParseConfig(data []byte, path string, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, &root, err)
	}

	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	switch err := dec.Decode(&fc); {
	case errors.Is(err, io.EOF):
		// An empty file: reported below as "no accounts".
	case err != nil:
		return nil, yamlError(path, &root, err)
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: path, Line: extra.Line, Err: errors.New("more than one YAML document")}
		}
	}

	v := validator{file: path, dir: filepath.Dir(path), root: &root, getenv: getenv}
	cfg := v.config(&fc)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return cfg, nil
}

// ConfigFromEnv is the configuration without a file: one account named
// "default" with the credentials of UPSTASH_EMAIL and UPSTASH_API_KEY,
// watching every database it lists.
func ConfigFromEnv(getenv func(string) string) (*Config, error) {
	const source = "environment"
	var errs []error
	email := strings.TrimSpace(getenv(EnvEmail))
	if email == "" {
		errs = append(errs, &ConfigError{File: source, Path: EnvEmail, Err: errors.New("not set (needed without a configuration file)")})
	}
	key := strings.TrimSpace(getenv(EnvAPIKey))
	if key == "" {
		errs = append(errs, &ConfigError{File: source, Path: EnvAPIKey, Err: errors.New("not set (needed without a configuration file)")})
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
			APIKey:       config.Secret(key),
			APIKeySource: EnvAPIKey,
		}},
	}, nil
}
