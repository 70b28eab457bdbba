package main

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	promconfig "github.com/prometheus/common/config"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
)

// Every text the exporter lets out (log records, the start-up error, the
// answer of /-/reload, --config.check) goes through a redact.Redactor of the
// keys it knows: those of the configuration in force and of the one before
// it (a call made with an old key may end, and log, after a reload), with
// the keys their api_key_files changed to (learnt before a call sends them:
// exporter.keyChanged), and,
// after a load failed, those the failed file names as far as they can be
// read, since its error may quote them.

// minSecretLength: shorter "keys" are not redacted. No Developer API key is
// that short, and replacing every "k" of a log line would garble it.
const minSecretLength = 8

// newRedactor redacts the keys of creds that are long enough to be keys.
func newRedactor(creds []redact.Credential) *redact.Redactor {
	kept := creds[:0:0]
	for _, c := range creds {
		if len(c.Key) >= minSecretLength {
			kept = append(kept, c)
		}
	}
	return redact.New(kept...)
}

// configRedactor redacts the keys of cfg's accounts; nil for a nil cfg.
func configRedactor(cfg *config.Config) *redact.Redactor {
	if cfg == nil {
		return nil
	}
	creds := make([]redact.Credential, 0, len(cfg.Accounts))
	for _, a := range cfg.Accounts {
		creds = append(creds, redact.Credential{User: a.Email, Key: string(a.APIKey)})
	}
	return newRedactor(creds)
}

// keysNamedBy is best effort: the keys the configuration the flags name
// could hold, found without validating it (the environment's, the demo's,
// and the file's api_key values and api_key_file contents), so that the
// error of a configuration that does not load cannot quote them.
func keysNamedBy(o options, getenv func(string) string) *redact.Redactor {
	envEmail := strings.TrimSpace(getenv(config.EnvEmail))
	creds := []redact.Credential{{User: envEmail, Key: strings.TrimSpace(getenv(config.EnvAPIKey))}}
	if o.demo {
		creds = append(creds, redact.Credential{User: demo.Email, Key: demo.APIKey})
	}
	if o.configFile != "" {
		creds = append(creds, keysInFile(o.configFile, envEmail)...)
	}
	return newRedactor(creds)
}

// apiKeyLine finds api_key values in a file YAML cannot parse.
var apiKeyLine = regexp.MustCompile(`(?m)^[\s-]*["']?api_key["']?\s*:\s*(?:!\S*\s+)?(.*?)\s*(?:\s#.*)?$`)

// keysInFile reads the configuration file at path, if it is a small regular
// file, for the keys it names: api_key values whatever their YAML tag,
// api_key_file contents, and the e-mail next to each.
func keysInFile(path, envEmail string) []redact.Credential {
	data, err := config.ReadSmallFile(path, config.MaxConfigFileSize)
	if err != nil {
		return nil
	}
	var creds []redact.Credential
	for _, m := range apiKeyLine.FindAllSubmatch(data, -1) {
		key := strings.Trim(string(m[1]), `"'`)
		creds = append(creds, redact.Credential{User: envEmail, Key: key}, redact.Credential{User: envEmail, Key: string(m[1])})
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return creds
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			email, key := envEmail, ""
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				if v.Kind != yaml.ScalarNode {
					continue
				}
				switch k {
				case "email":
					email = strings.TrimSpace(v.Value)
				case "api_key":
					key = strings.TrimSpace(v.Value)
				case "api_key_file":
					if k, err := config.ReadKeyFile(promconfig.JoinDir(filepath.Dir(path), v.Value)); err == nil {
						key = k
					}
				}
			}
			if key != "" {
				creds = append(creds, redact.Credential{User: email, Key: key})
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return creds
}
