package main

import (
	"regexp"
	"strings"

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
// could hold besides those a failed load still read (config.Load returns
// them with its error): the environment's, the demo's, and the api_key
// values of a file too broken to parse, since its error may quote a line.
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
// file, for the api_key values its lines hold, whatever their YAML tag or
// quotes.
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
	return creds
}
