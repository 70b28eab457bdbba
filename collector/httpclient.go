package collector

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// httpClientBlock is an account's http_client_config as written: its node,
// for the keys and lines of errors, and its value decoded (strictly, as
// the rest of the file) into the HTTPClientConfig of prometheus/common.
type httpClientBlock struct {
	node *yaml.Node
	cfg  config.HTTPClientConfig
	// err is what one of the block's own UnmarshalYAML methods refused
	// (a proxy_url that is no URL, an unknown TLS version): reported by
	// validation with the field's path and line, which the decoder's
	// error does not carry.
	err error
}

// httpClientPlain and tlsPlain decode without the Validate of their
// UnmarshalYAML methods; validation calls it.
type (
	httpClientPlain config.HTTPClientConfig
	tlsPlain        config.TLSConfig
)

// defaultHTTPClient is the block's value for what it does not set. Unlike
// Prometheus, redirects are not followed unless asked for.
var defaultHTTPClient = config.HTTPClientConfig{EnableHTTP2: true}

// UnmarshalYAML implements the obsolete yaml.Unmarshaler, whose unmarshal
// decodes with the file's decoder, so unknown fields are errors here too.
func (h *httpClientBlock) UnmarshalYAML(unmarshal func(any) error) error {
	var n nodeOf
	if err := unmarshal(&n); err != nil {
		return err
	}
	h.node = n.node
	h.cfg = defaultHTTPClient
	err := unmarshal((*httpClientPlain)(&h.cfg))
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return err
	}
	h.err = err
	return nil
}

// nodeOf keeps the node it is decoded from.
type nodeOf struct{ node *yaml.Node }

func (n *nodeOf) UnmarshalYAML(node *yaml.Node) error {
	n.node = node
	return nil
}

// ownCredentials are the fields of HTTPClientConfig that set credentials;
// the client sends the account's e-mail and key as Basic auth itself.
var ownCredentials = []string{"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file"}

// httpClient checks accounts[i].http_client_config; nil when absent or
// wrong.
func (v *validator) httpClient(h *httpClientBlock, i int) *config.HTTPClientConfig {
	if h.node == nil || h.node.Kind == yaml.ScalarNode && h.node.ShortTag() == "!!null" {
		return nil
	}
	at := func(p ...any) []any { return append([]any{"accounts", i, "http_client_config"}, p...) }
	ok := true
	for j := 0; j+1 < len(h.node.Content); j += 2 {
		if k := h.node.Content[j]; slices.Contains(ownCredentials, k.Value) {
			v.failAt(k.Line, errors.New("not allowed: the exporter sends email and the API key (api_key_file or api_key) as Basic auth itself"), at(k.Value)...)
			ok = false
		}
	}
	if h.err != nil {
		v.fail(decodeError(h.err), at(h.culprit()...)...)
		return nil
	}
	if !ok {
		return nil
	}
	cfg := h.cfg
	if u := cfg.ProxyURL.URL; u != nil && u.String() != "" {
		if err := checkProxyURL(u); err != nil {
			v.fail(err, at("proxy_url")...)
			return nil
		}
	}
	if err := cfg.Validate(); err != nil {
		v.fail(err, at()...)
		return nil
	}
	cfg.SetDirectory(v.dir)
	// Reads ca_file, cert_file and key_file, so that --config.check
	// finds a missing one.
	if _, err := config.NewTLSConfig(&cfg.TLSConfig); err != nil {
		v.fail(err, at("tls_config")...)
		return nil
	}
	return &cfg
}

// culprit is the path, within the block, of the field whose value alone
// fails to decode: a key of the block, or of its tls_config. Nil when no
// single field does.
func (h *httpClientBlock) culprit() []any {
	fails := func(n *yaml.Node, j int, into any) bool {
		one := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: slices.Clone(n.Content[j : j+2])}
		return one.Decode(into) != nil
	}
	n := h.node
	for j := 0; n.Kind == yaml.MappingNode && j+1 < len(n.Content); j += 2 {
		if !fails(n, j, &httpClientPlain{}) {
			continue
		}
		key, val := n.Content[j].Value, n.Content[j+1]
		for k := 0; key == "tls_config" && val.Kind == yaml.MappingNode && k+1 < len(val.Content); k += 2 {
			if fails(val, k, &tlsPlain{}) {
				return []any{key, val.Content[k].Value}
			}
		}
		return []any{key}
	}
	return nil
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
func describeHTTPClient(c *config.HTTPClientConfig) string {
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
