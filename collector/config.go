package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
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
	Name       string         `yaml:"name"`
	Email      string         `yaml:"email"`
	APIKey     config.Secret  `yaml:"api_key"`
	APIKeyFile string         `yaml:"api_key_file"`
	APIURL     string         `yaml:"api_url"`
	Databases  []fileDatabase `yaml:"databases"`
	Include    string         `yaml:"include"`
	Exclude    string         `yaml:"exclude"`
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
	data, err := os.ReadFile(path)
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

type validator struct {
	file   string
	dir    string
	root   *yaml.Node
	getenv func(string) string
	errs   []error
}

// fail records a problem at the field path given as keys (string) and
// sequence indexes (int).
func (v *validator) fail(err error, path ...any) {
	v.errs = append(v.errs, &ConfigError{
		File: v.file,
		Line: lineOf(v.root, path),
		Path: formatPath(path),
		Err:  err,
	})
}

func (v *validator) config(fc *fileConfig) *Config {
	cfg := &Config{Source: v.file}
	if len(fc.Accounts) == 0 {
		v.fail(errors.New("no accounts configured"), "accounts")
		return cfg
	}
	accountAt := map[string]int{}
	databaseAt := map[string]string{}
	for i := range fc.Accounts {
		fa := &fc.Accounts[i]
		a := v.account(fa, i)
		if a.Name != "" {
			if j, dup := accountAt[a.Name]; dup {
				v.fail(fmt.Errorf("duplicate account name %q (also accounts[%d])", a.Name, j), "accounts", i, "name")
			} else {
				accountAt[a.Name] = i
			}
		}
		// Series carry database_id only, so one database watched through
		// two accounts would collide on /metrics.
		for j, d := range a.Databases {
			if d.ID == "" {
				continue
			}
			where := fmt.Sprintf("accounts[%d].databases[%d]", i, j)
			if prev, dup := databaseAt[d.ID]; dup {
				v.fail(fmt.Errorf("duplicate database id %q (also %s)", d.ID, prev), "accounts", i, "databases", j, "id")
				continue
			}
			databaseAt[d.ID] = where
		}
		cfg.Accounts = append(cfg.Accounts, a)
	}
	return cfg
}

func (v *validator) account(fa *fileAccount, i int) Account {
	a := Account{
		Name:        fa.Name,
		Email:       strings.TrimSpace(fa.Email),
		EmailSource: "email",
	}
	if strings.TrimSpace(a.Name) == "" {
		v.fail(errors.New("missing"), "accounts", i, "name")
	}
	if a.Email == "" {
		a.Email, a.EmailSource = strings.TrimSpace(v.getenv(EnvEmail)), EnvEmail
		if a.Email == "" {
			v.fail(fmt.Errorf("missing (set it or %s)", EnvEmail), "accounts", i, "email")
		}
	}

	switch {
	case fa.APIKey != "" && fa.APIKeyFile != "":
		v.fail(errors.New("api_key and api_key_file are mutually exclusive"), "accounts", i, "api_key_file")
	case fa.APIKeyFile != "":
		a.APIKeySource = "api_key_file " + fa.APIKeyFile
		a.APIKey = v.keyFile(fa.APIKeyFile, i)
	case fa.APIKey != "":
		a.APIKeySource = "api_key"
		a.APIKey = config.Secret(strings.TrimSpace(string(fa.APIKey)))
		if a.APIKey == "" {
			v.fail(errors.New("empty"), "accounts", i, "api_key")
		}
	default:
		a.APIKeySource = EnvAPIKey
		a.APIKey = config.Secret(strings.TrimSpace(v.getenv(EnvAPIKey)))
		if a.APIKey == "" {
			v.fail(fmt.Errorf("missing: set api_key_file, api_key or %s", EnvAPIKey), "accounts", i, "api_key")
		}
	}

	if fa.APIURL != "" {
		if err := checkAPIURL(fa.APIURL); err != nil {
			v.fail(err, "accounts", i, "api_url")
		} else {
			a.APIURL = fa.APIURL
		}
	}

	a.Include = v.regexp(fa.Include, "accounts", i, "include")
	a.Exclude = v.regexp(fa.Exclude, "accounts", i, "exclude")

	if fa.Databases != nil && len(fa.Databases) == 0 {
		v.fail(errors.New("empty list; omit databases to watch every database of the account"), "accounts", i, "databases")
	}
	if len(fa.Databases) > 0 {
		a.Databases = make([]DatabaseConfig, 0, len(fa.Databases))
	}
	seen := map[string]int{}
	for j, fd := range fa.Databases {
		d := DatabaseConfig{ID: strings.TrimSpace(fd.ID), Name: fd.Name}
		if d.ID == "" {
			v.fail(errors.New("missing"), "accounts", i, "databases", j, "id")
		} else if k, dup := seen[d.ID]; dup {
			v.fail(fmt.Errorf("duplicate database id %q (also accounts[%d].databases[%d])", d.ID, i, k), "accounts", i, "databases", j, "id")
			d.ID = "" // reported once, not again across accounts
		} else {
			seen[d.ID] = j
		}
		if fd.ExpectedInterval != "" {
			dur, err := time.ParseDuration(fd.ExpectedInterval)
			switch {
			case err != nil:
				v.fail(err, "accounts", i, "databases", j, "expected_interval")
			case dur <= 0:
				v.fail(fmt.Errorf("must be positive, got %s", fd.ExpectedInterval), "accounts", i, "databases", j, "expected_interval")
			default:
				d.ExpectedInterval = dur
			}
		}
		a.Databases = append(a.Databases, d)
	}
	return a
}

func (v *validator) keyFile(name string, i int) config.Secret {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(v.dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError names the file and the cause, never its content.
		v.fail(err, "accounts", i, "api_key_file")
		return ""
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		v.fail(fmt.Errorf("file %q is empty", name), "accounts", i, "api_key_file")
	}
	return config.Secret(key)
}

func (v *validator) regexp(expr string, path ...any) *regexp.Regexp {
	if expr == "" {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		v.fail(err, path...)
		return nil
	}
	return re
}

func checkAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL; it is not a secret, but keep the
		// message short.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	if u.User != nil {
		return errors.New("must not contain credentials; use email and api_key_file")
	}
	return nil
}

var (
	yamlLineMessage = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknown     = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlWrongType   = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: .*)? into (\S+)$`)
	yamlDuplicate   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
)

// yamlError turns an error of the YAML decoder into ConfigErrors that name
// the file, line and field path, and drop Go type names and scalar values.
func yamlError(file string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return parseYAMLMessage(file, root, err.Error())
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, parseYAMLMessage(file, root, msg))
	}
	return errors.Join(errs...)
}

func parseYAMLMessage(file string, root *yaml.Node, msg string) *ConfigError {
	m := yamlLineMessage.FindStringSubmatch(msg)
	if m == nil {
		return &ConfigError{File: file, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
	}
	line, _ := strconv.Atoi(m[1])
	msg = m[2]
	ce := &ConfigError{File: file, Line: line}
	if u := yamlUnknown.FindStringSubmatch(msg); u != nil {
		ce.Path = formatPath(pathAtLine(root, line, u[1]))
		ce.Err = errors.New("unknown field")
		return ce
	}
	if d := yamlDuplicate.FindStringSubmatch(msg); d != nil {
		ce.Path = formatPath(pathAtLine(root, line, d[1]))
		ce.Err = fmt.Errorf("duplicate key (also line %s)", d[2])
		return ce
	}
	if w := yamlWrongType.FindStringSubmatch(msg); w != nil {
		ce.Path = formatPath(pathAtLine(root, line, ""))
		ce.Err = fmt.Errorf("want %s, got %s", yamlKind(w[2]), w[1])
		return ce
	}
	ce.Err = errors.New(msg)
	return ce
}

// yamlKind names the YAML shape a Go type of the file schema expects.
func yamlKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string" || goType == "config.Secret":
		return "a string"
	default:
		return "a mapping"
	}
}

// lineOf is the line of the node at path, or of its deepest existing
// ancestor when the field is missing; 0 when not even the document exists.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return 0
	}
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

func child(n *yaml.Node, p any) *yaml.Node {
	switch p := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && p < len(n.Content) {
			return n.Content[p]
		}
	}
	return nil
}

// pathAtLine finds the field a decoder message about line refers to: the
// mapping key named key on that line, or (key empty) the deepest mapping
// entry whose value starts on that line.
func pathAtLine(root *yaml.Node, line int, key string) []any {
	var best []any
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(path[:len(path):len(path)], i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := append(path[:len(path):len(path)], k.Value)
				match := k.Line == line && k.Value == key
				if key == "" {
					match = val.Line == line
				}
				if match && len(p) > len(best) {
					best = p
				}
				walk(val, p)
			}
		}
	}
	walk(root, nil)
	return best
}

func formatPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

// Describe is the --config.check summary: the accounts, their databases or
// discovery filters and API URLs. It never contains a key.
func (c *Config) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "configuration from %s: %d account(s)\n", c.Source, len(c.Accounts))
	for i := range c.Accounts {
		a := &c.Accounts[i]
		apiURL := a.APIURL
		if apiURL == "" {
			apiURL = upstash.DefaultBaseURL + " (default)"
		}
		fmt.Fprintf(&b, "account %q\n", a.Name)
		fmt.Fprintf(&b, "  api_url: %s\n", apiURL)
		fmt.Fprintf(&b, "  email: %s (from %s)\n", a.Email, a.EmailSource)
		fmt.Fprintf(&b, "  api key: from %s\n", a.APIKeySource)
		if a.Discovers() {
			b.WriteString("  databases: every database of the account")
			if a.Include != nil {
				fmt.Fprintf(&b, ", include %q", a.Include.String())
			}
			if a.Exclude != nil {
				fmt.Fprintf(&b, ", exclude %q", a.Exclude.String())
			}
			b.WriteByte('\n')
			continue
		}
		fmt.Fprintf(&b, "  databases: %d listed", len(a.Databases))
		if a.Include != nil || a.Exclude != nil {
			b.WriteString(" (include and exclude apply to discovery only and are ignored)")
		}
		b.WriteByte('\n')
		for _, d := range a.Databases {
			fmt.Fprintf(&b, "    - %s", d.ID)
			if d.Name != "" {
				fmt.Fprintf(&b, " name %q", d.Name)
			}
			if d.ExpectedInterval > 0 {
				fmt.Fprintf(&b, " expected_interval %s", d.ExpectedInterval)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// String is Describe; a Config printed by mistake shows no key.
func (c *Config) String() string { return c.Describe() }
