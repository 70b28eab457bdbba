package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	promconfig "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// httpClientPlain is the type of prometheus/common without
// its UnmarshalYAML method, which validate: httpClient validates after
// decoding, with the field's path and line.
type httpClientPlain promconfig.HTTPClientConfig

// defaultHTTPClient is the block's value for what it does not set. Unlike
// Prometheus, redirects are not followed unless asked for.
var defaultHTTPClient = promconfig.HTTPClientConfig{EnableHTTP2: true}

// ownCredentials are the fields of HTTPClientConfig that set credentials;
// the client sends the account's e-mail and key as Basic auth itself.
var ownCredentials = []string{"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file"}

// httpClient reads an account's http_client_config, Prometheus'
// HTTPClientConfig without credentials; nil when absent or wrong.
func (p *parser) httpClient(n *yaml.Node, at path) *promconfig.HTTPClientConfig {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, at, fmt.Errorf("want a mapping, got %s", shape(n)))
		return nil
	}
	errs := len(p.errs)
	// The block without the credentials it must not set.
	block := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; slices.Contains(ownCredentials, k.Value) {
			p.fail(k, at.with(k.Value), errors.New("not allowed: the exporter sends email and the API key (api_key_file or api_key) as Basic auth itself"))
			continue
		}
		block.Content = append(block.Content, n.Content[i], n.Content[i+1])
	}
	p.strict(block, reflect.TypeFor[promconfig.HTTPClientConfig](), at)
	if len(p.errs) > errs {
		return nil
	}
	cfg := defaultHTTPClient
	if err := block.Decode((*httpClientPlain)(&cfg)); err != nil {
		p.fail(n, at, decodeError(err))
		return nil
	}
	if u := cfg.ProxyURL.URL; u != nil && u.String() != "" {
		if err := checkProxyURL(u); err != nil {
			p.fail(n, at.with("proxy_url"), err)
			return nil
		}
	}
	if err := cfg.Validate(); err != nil {
		p.fail(n, at, err)
		return nil
	}
	cfg.SetDirectory(p.dir)
	// Reads ca_file, cert_file and key_file, so that --config.check finds
	// a missing one.
	if _, err := promconfig.NewTLSConfig(&cfg.TLSConfig); err != nil {
		tls := n
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "tls_config" {
				tls = n.Content[i+1]
			}
		}
		p.fail(tls, at.with("tls_config"), err)
		return nil
	}
	return &cfg
}

// strict checks mapping n against struct type t as a strict decoder would:
// every key names a field (credentials are refused by the caller), no key
// is given twice, and each value decodes into its field's type. Mappings of
// struct fields are checked field by field, so a problem is reported at the
// deepest key.
func (p *parser) strict(n *yaml.Node, t reflect.Type, at path) {
	fields, rest := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if line, dup := seen[k.Value]; dup {
			p.fail(k, at.with(k.Value), fmt.Errorf("duplicate key (also line %d)", line))
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			ft = rest
		}
		if ft == nil {
			p.fail(k, at.with(k.Value), errors.New("unknown field"))
			continue
		}
		base := ft
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		if v.Kind == yaml.MappingNode && base.Kind() == reflect.Struct && base != reflect.TypeFor[promconfig.URL]() {
			p.strict(v, base, at.with(k.Value))
			continue
		}
		if err := v.Decode(reflect.New(ft).Interface()); err != nil {
			p.fail(v, at.with(k.Value), leafError(err, base))
		}
	}
}

// yamlFields are the keys struct t decodes, with their types, those of
// inline structs included, and the value type of an inline map, which
// takes any other key (nil without one).
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, rest reflect.Type) {
	fields = map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
		case strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Map:
			rest = f.Type.Elem()
		case strings.Contains(opts, "inline"):
			inner, innerRest := yamlFields(f.Type)
			for k, v := range inner {
				fields[k] = v
			}
			if rest == nil {
				rest = innerRest
			}
		case name == "":
			fields[strings.ToLower(f.Name)] = f.Type
		default:
			fields[name] = f.Type
		}
	}
	return fields, rest
}

// leafError says what a value that does not decode into type t should
// be. A decoder's type error quotes the value, which may be a secret, so
// it is replaced; a field's own error (a TLS version it does not know, a
// URL it cannot parse) is kept, without a URL's text.
func leafError(err error, t reflect.Type) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return decodeError(err)
	}
	switch t.Kind() {
	case reflect.Bool:
		return errors.New("want true or false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return errors.New("want a number")
	case reflect.Slice:
		return errors.New("want a list")
	case reflect.Map, reflect.Struct:
		return errors.New("want a mapping")
	}
	return errors.New("want a string")
}

// decodeError is err without the value a *url.Error quotes: a proxy URL
// can hold a password.
func decodeError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("invalid URL: %w", ue.Err)
	}
	return err
}

// checkProxyURL accepts the proxies net/http speaks to. The error does not
// quote the URL, which can hold a password.
func checkProxyURL(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "socks5", "socks5h":
	default:
		return errors.New("want an absolute URL such as http://proxy.example.com:3128 (scheme http, https or socks5)")
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	return nil
}

// describeHTTPClient is the --config.check line of a block, without
// secrets: the proxy URL's password is redacted.
func describeHTTPClient(c *promconfig.HTTPClientConfig) string {
	var parts []string
	switch {
	case c.ProxyFromEnvironment:
		parts = append(parts, "proxy from the environment")
	case c.ProxyURL.URL != nil && c.ProxyURL.String() != "":
		p := "proxy_url " + c.ProxyURL.Redacted()
		if c.NoProxy != "" {
			p += " (no_proxy " + c.NoProxy + ")"
		}
		parts = append(parts, p)
	}
	if t := c.TLSConfig; t.CAFile != "" {
		parts = append(parts, "tls_config ca_file "+t.CAFile)
	} else if t.CA != "" || t.CARef != "" {
		parts = append(parts, "tls_config ca")
	}
	if c.TLSConfig.InsecureSkipVerify {
		parts = append(parts, "tls_config insecure_skip_verify")
	}
	parts = append(parts, fmt.Sprintf("follow_redirects %t", c.FollowRedirects))
	return strings.Join(parts, ", ")
}
