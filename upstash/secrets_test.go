package upstash_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// TestAnswersEchoingTheKeyNeverLeakIt: an API, or a proxy before it, that
// quotes the request's credentials in an answer must not get them into an
// error or a decode problem, whole or cut by a length limit.
func TestAnswersEchoingTheKeyNeverLeakIt(t *testing.T) {
	t.Parallel()
	key := upstashtest.DefaultAPIKey
	basic := base64.StdEncoding.EncodeToString([]byte(upstashtest.DefaultEmail + ":" + key))
	// A secret straddling every cut a length limit could make.
	long := func(secret string) string {
		var b strings.Builder
		for i := range 220 {
			b.WriteString(strings.Repeat("x", i%7) + " " + secret + " ")
		}
		return b.String()
	}
	tests := map[string]string{
		"error object":             `{"error":"key ` + key + ` rejected for Basic ` + basic + `"}`,
		"message object":           `{"message":"` + basic + `"}`,
		"bare string":              `"` + key + `"`,
		"long error with the key":  `{"error":"` + long(key) + `"}`,
		"long error with basic":    `{"error":"` + long(basic) + `"}`,
		"one long word":            `{"error":"` + strings.Repeat(key, 20) + `"}`,
		"entries":                  `[{"backup_id":"` + key + `","creation_time":1764000000},{"backup_id":"` + key + `","creation_time":1764000000},{"creation_time":"` + key + `"},{"creation_time":"` + basic + `"},{"creation_time":1764000000,"backup_size":"` + basic + `"},{"creation_time":1764000000,"backup_size":"` + key + `"}]`,
		"truncated after the key":  `[{"backup_id":"` + key + `","creation_time":17`,
		"HTML with the credential": `<html>Authorization: Basic ` + basic + `</html>`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, fake := newFakeClient(t, key)
			fake.AddDatabase(upstashtest.Database{ID: "db1"})
			fake.SetRawBackups("db1", []byte(body))
			list, err := c.ListBackups(t.Context(), "db1")
			var texts []string
			if err != nil {
				texts = append(texts, err.Error())
			}
			for _, p := range list.Problems {
				texts = append(texts, p.Reason)
			}
			if len(texts) == 0 {
				t.Fatal("the answer was read without an error or a problem")
			}
			for _, text := range texts {
				for _, piece := range secretPieces(key, basic) {
					if strings.Contains(text, piece) {
						t.Errorf("%q holds %q, a piece of a secret", text, piece)
					}
				}
			}
		})
	}
}

// secretPieces are the secrets and every piece of them at least 12 bytes
// long: a prefix or suffix that a cut would leave.
func secretPieces(secrets ...string) []string {
	const minPiece = 12
	var pieces []string
	for _, s := range secrets {
		for n := minPiece; n <= len(s); n++ {
			pieces = append(pieces, s[:n], s[len(s)-n:])
		}
	}
	return pieces
}
