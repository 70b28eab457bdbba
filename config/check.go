package config

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// String is the --config.check report: the accounts, their databases or
// discovery filters and API URLs. It never contains a key, so a Config
// printed by mistake shows none either.
func (c *Config) String() string {
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
		if a.RequiredRetention > 0 {
			fmt.Fprintf(&b, "  required_retention: %s\n", model.Duration(a.RequiredRetention))
		}
		if a.HTTPClient != nil {
			fmt.Fprintf(&b, "  http_client_config: %s\n", describeHTTPClient(a.HTTPClient))
		}
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
				fmt.Fprintf(&b, " expected_interval %s", model.Duration(d.ExpectedInterval))
			}
			if d.RequiredRetention > 0 {
				fmt.Fprintf(&b, " required_retention %s", model.Duration(d.RequiredRetention))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
