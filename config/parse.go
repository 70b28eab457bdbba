package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// parser reads the file as a tree of yaml.Nodes and builds the Config from
// it, field by field. Nodes carry their line, so every problem is reported
// with its line and field path without interpreting the YAML library's
// messages; strictness (unknown and duplicate keys, wrong shapes) is
// checked here too.
type parser struct {
	file, dir string
	getenv    func(string) string
	errs      []*Error
}

// fail records a problem of the field at, on the line of n (0 for a nil n).
func (p *parser) fail(n *yaml.Node, at path, err error) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: at.String(), Err: err})
}

// err joins the problems found, in the order of the file.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// parse reads the single YAML document of data.
func (p *parser) parse(data []byte) *Config {
	cfg := &Config{Source: p.file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// An empty file: no accounts, reported below.
	case err != nil:
		// A syntax error, as the YAML library words it (with its line).
		p.errs = append(p.errs, &Error{File: p.file, Err: err})
		return nil
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			p.fail(&extra, nil, errors.New("more than one YAML document"))
			return nil
		}
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	fields := p.mapping(root, nil, "accounts")
	if root != nil && root.Kind != yaml.MappingNode && !isNull(root) {
		return cfg
	}
	accounts := p.list(fields["accounts"], path{"accounts"})
	if len(accounts) == 0 {
		p.fail(cmp.Or(fields["accounts"], root), path{"accounts"}, errors.New("no accounts configured"))
		return cfg
	}
	accountAt := map[string]int{}
	databaseAt := map[string]path{}
	for i, n := range accounts {
		at := path{"accounts", i}
		a, nodes := p.account(n, at)
		if j, dup := accountAt[a.Name]; dup && a.Name != "" {
			p.fail(nodes["name"], at.with("name"), fmt.Errorf("duplicate account name %q (also accounts[%d])", a.Name, j))
		} else {
			accountAt[a.Name] = i
		}
		// Series carry database_id only, so one database watched through
		// two accounts, or twice in one, would collide on /metrics.
		for j, d := range a.Databases {
			if d.ID == "" {
				continue
			}
			dat := at.with("databases", j)
			if prev, dup := databaseAt[d.ID]; dup {
				p.fail(nodes[dat.String()], dat.with("id"), fmt.Errorf("duplicate database id %q (also %s)", d.ID, prev))
				continue
			}
			databaseAt[d.ID] = dat
		}
		cfg.Accounts = append(cfg.Accounts, a)
	}
	return cfg
}

// account reads accounts[i]. It returns, with the account, the nodes of its
// name and of its databases' ids (keyed by the database's path), for the
// lines of the problems found across accounts.
func (p *parser) account(n *yaml.Node, at path) (Account, map[string]*yaml.Node) {
	f := p.mapping(n, at, "name", "email", "api_key", "api_key_file", "api_url",
		"databases", "include", "exclude", "http_client_config", "required_retention")
	nodes := map[string]*yaml.Node{"name": f["name"]}
	a := Account{Name: p.str(f["name"], at.with("name")), EmailSource: "email"}
	if strings.TrimSpace(a.Name) == "" {
		p.fail(cmp.Or(f["name"], n), at.with("name"), errors.New("missing"))
	}
	a.Email = strings.TrimSpace(p.str(f["email"], at.with("email")))
	if a.Email == "" {
		a.Email, a.EmailSource = strings.TrimSpace(p.getenv(EnvEmail)), EnvEmail
		if a.Email == "" {
			p.fail(cmp.Or(f["email"], n), at.with("email"), fmt.Errorf("missing (set it or %s)", EnvEmail))
		}
	}
	p.key(&a, f, n, at)
	if raw := p.str(f["api_url"], at.with("api_url")); raw != "" {
		if err := checkAPIURL(raw); err != nil {
			p.fail(f["api_url"], at.with("api_url"), err)
		} else {
			a.APIURL = raw
		}
	}
	a.HTTPClient = p.httpClient(f["http_client_config"], at.with("http_client_config"))
	a.RequiredRetention = p.duration(f["required_retention"], at.with("required_retention"))
	a.Include = p.regexp(f["include"], at.with("include"))
	a.Exclude = p.regexp(f["exclude"], at.with("exclude"))

	list := p.list(f["databases"], at.with("databases"))
	if list != nil && len(list) == 0 {
		p.fail(f["databases"], at.with("databases"), errors.New("empty list; omit databases to watch every database of the account"))
	}
	for j, dn := range list {
		dat := at.with("databases", j)
		d, idNode := p.database(dn, dat)
		nodes[dat.String()] = idNode
		a.Databases = append(a.Databases, d)
	}
	return a, nodes
}

// key reads the account's key from api_key_file, api_key or the
// environment.
func (p *parser) key(a *Account, f map[string]*yaml.Node, n *yaml.Node, at path) {
	// api_key is read as written, whatever its tag: a key of digits stays
	// text. A value that is not a scalar is refused without quoting it.
	inline := p.str(f["api_key"], at.with("api_key"))
	file := p.str(f["api_key_file"], at.with("api_key_file"))
	switch {
	case inline != "" && file != "":
		p.fail(f["api_key_file"], at.with("api_key_file"), errors.New("api_key and api_key_file are mutually exclusive"))
	case file != "":
		a.APIKeySource = "api_key_file " + file
		a.APIKeyFile = promconfig.JoinDir(p.dir, file)
		key, err := ReadKeyFile(a.APIKeyFile)
		switch {
		case err != nil:
			// The errors name the file and the cause, never its content.
			p.fail(f["api_key_file"], at.with("api_key_file"), err)
		case key == "":
			p.fail(f["api_key_file"], at.with("api_key_file"), fmt.Errorf("file %q is empty", file))
		}
		a.APIKey = promconfig.Secret(key)
	case f["api_key"] != nil && f["api_key"].Kind == yaml.ScalarNode && f["api_key"].ShortTag() != "!!null":
		a.APIKeySource = "api_key"
		a.APIKey = promconfig.Secret(strings.TrimSpace(inline))
		if a.APIKey == "" {
			p.fail(f["api_key"], at.with("api_key"), errors.New("empty"))
		}
	case f["api_key"] == nil || f["api_key"].Kind == yaml.ScalarNode:
		a.APIKeySource = EnvAPIKey
		a.APIKey = promconfig.Secret(strings.TrimSpace(p.getenv(EnvAPIKey)))
		if a.APIKey == "" {
			p.fail(cmp.Or(f["api_key"], n), at.with("api_key"), fmt.Errorf("missing: set api_key_file, api_key or %s", EnvAPIKey))
		}
	}
}

// database reads one entry of databases; it returns the node of its id.
func (p *parser) database(n *yaml.Node, at path) (Database, *yaml.Node) {
	f := p.mapping(n, at, "id", "name", "expected_interval", "required_retention")
	d := Database{ID: strings.TrimSpace(p.str(f["id"], at.with("id"))), Name: p.str(f["name"], at.with("name"))}
	idNode := cmp.Or(f["id"], n)
	switch d.ID {
	case "":
		p.fail(idNode, at.with("id"), errors.New("missing"))
	case ".", "..":
		p.fail(idNode, at.with("id"), fmt.Errorf("%q is not a database id: a URL path would normalise it away", d.ID))
		d.ID = ""
	}
	d.ExpectedInterval = p.duration(f["expected_interval"], at.with("expected_interval"))
	d.RequiredRetention = p.duration(f["required_retention"], at.with("required_retention"))
	return d, idNode
}

// duration reads a positive duration in Prometheus' syntax, so 1d and 1w
// work as in every other Prometheus configuration; 0 when absent.
func (p *parser) duration(n *yaml.Node, at path) time.Duration {
	text := p.str(n, at)
	if text == "" {
		return 0
	}
	md, err := model.ParseDuration(text)
	switch {
	case strings.HasPrefix(strings.TrimSpace(text), "-") || err == nil && md <= 0:
		p.fail(n, at, fmt.Errorf("must be positive, got %s", text))
	case err != nil:
		p.fail(n, at, err)
	}
	return time.Duration(md)
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
