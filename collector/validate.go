package collector

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

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
	v.failAt(lineOf(v.root, path), err, path...)
}

// failAt is fail with the line given, for an error about a key rather than
// its value.
func (v *validator) failAt(line int, err error, path ...any) {
	v.errs = append(v.errs, &ConfigError{
		File: v.file,
		Line: line,
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
	case fa.APIKey.notScalar != "":
		v.fail(fmt.Errorf("want a string, got %s", fa.APIKey.notScalar), "accounts", i, "api_key")
	case fa.APIKey.text != "" && fa.APIKeyFile != "":
		v.fail(errors.New("api_key and api_key_file are mutually exclusive"), "accounts", i, "api_key_file")
	case fa.APIKeyFile != "":
		a.APIKeySource = "api_key_file " + fa.APIKeyFile
		a.APIKey, a.APIKeyFile = v.keyFile(fa.APIKeyFile, i)
	case fa.APIKey.text != "":
		a.APIKeySource = "api_key"
		a.APIKey = config.Secret(strings.TrimSpace(fa.APIKey.text))
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

	a.HTTPClient = v.httpClient(&fa.HTTPClient, i)
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
		} else if unsafeID(d.ID) {
			v.fail(fmt.Errorf("%q is not a database id: a URL path would normalise it away", d.ID), "accounts", i, "databases", j, "id")
			d.ID = ""
		} else if k, dup := seen[d.ID]; dup {
			v.fail(fmt.Errorf("duplicate database id %q (also accounts[%d].databases[%d])", d.ID, i, k), "accounts", i, "databases", j, "id")
			d.ID = "" // reported once, not again across accounts
		} else {
			seen[d.ID] = j
		}
		if fd.ExpectedInterval != "" {
			// Prometheus' duration syntax, so 1d and 1w work as in
			// every other Prometheus configuration.
			md, err := model.ParseDuration(fd.ExpectedInterval)
			dur := time.Duration(md)
			switch {
			case strings.HasPrefix(strings.TrimSpace(fd.ExpectedInterval), "-"):
				v.fail(fmt.Errorf("must be positive, got %s", fd.ExpectedInterval), "accounts", i, "databases", j, "expected_interval")
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
