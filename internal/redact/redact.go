// Package redact removes API keys from every text the exporter lets out of
// the process: log lines, error messages, HTTP answers and label values.
// A key can travel in more than its raw form (an API or proxy echoing a
// request quotes it URL-escaped, HTML-escaped, JSON-escaped, inside the
// Basic credentials, or folded across lines), so a Redactor knows every
// encoding of each key and matches them all.
package redact

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Placeholder replaces a secret found in a text.
const Placeholder = "<secret>"

// Withheld replaces a whole text that holds a secret broken up by spaces or
// line breaks: the pieces cannot be told from the rest, so nothing is kept.
const Withheld = "<withheld: the text quoted a secret>"

// Credential is one account's user name (the e-mail) and API key. The user
// name is needed only for the Basic credentials, base64 of "user:key".
type Credential struct {
	User string
	Key  string
}

// Redactor replaces the encodings of a set of keys. The zero value and nil
// redact nothing. It is immutable and safe for concurrent use.
type Redactor struct {
	// forms holds every encoding of every key, longest first, so that a
	// form containing another is replaced whole; squeezed holds the same
	// forms without white space, to find a key split across lines.
	forms, squeezed []string
}

// New returns a Redactor for the keys of creds; empty keys are ignored.
func New(creds ...Credential) *Redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, c := range creds {
		if c.Key == "" {
			continue
		}
		for _, k := range []string{c.Key, c.User + ":" + c.Key} {
			add(k)
			for _, esc := range []string{url.QueryEscape(k), url.PathEscape(k)} {
				add(esc)
				add(lowerPercent(esc))
			}
			add(html.EscapeString(k))
			add(jsonEscape(k, true))
			add(jsonEscape(k, false))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			add(enc.EncodeToString([]byte(c.User + ":" + c.Key)))
			add(enc.EncodeToString([]byte(c.Key)))
		}
	}
	return newRedactor(forms)
}

// newRedactor sorts forms longest first, drops repeats, and computes their
// squeezed copies once, not on every String call.
func newRedactor(forms []string) *Redactor {
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	r := &Redactor{forms: forms, squeezed: make([]string, len(forms))}
	for i, f := range forms {
		r.squeezed[i] = strings.Map(dropSpace, f)
	}
	return r
}

// Empty reports whether r redacts nothing.
func (r *Redactor) Empty() bool { return r == nil || len(r.forms) == 0 }

// String returns s with every encoding of every key replaced by
// Placeholder. A key split by white space (a line-wrapped error page) is
// found too; then the whole text is replaced by Withheld.
func (r *Redactor) String(s string) string {
	if r.Empty() || s == "" {
		return s
	}
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Placeholder)
		}
	}
	if squeezed := strings.Map(dropSpace, s); len(squeezed) != len(s) {
		for _, f := range r.squeezed {
			if strings.Contains(squeezed, f) {
				return Withheld
			}
		}
	}
	return s
}

// Contains reports whether s holds any encoding of any key, whole or split
// by white space.
func (r *Redactor) Contains(s string) bool {
	return r.String(s) != s
}

// Join returns a Redactor for the keys of both.
func Join(rs ...*Redactor) *Redactor {
	var forms []string
	for _, r := range rs {
		if r != nil {
			forms = append(forms, r.forms...)
		}
	}
	return newRedactor(forms)
}

// Error is err with the keys removed from its text. It does not wrap err,
// whose text still holds them.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(r.String(err.Error()))
}

func dropSpace(r rune) rune {
	if unicode.IsSpace(r) {
		return -1
	}
	return r
}

// lowerPercent writes the hex digits of %XX escapes in lower case, which
// some encoders emit.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if b[j] >= 'A' && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// jsonEscape is k as it appears inside a JSON string, with or without
// encoding/json's escaping of <, > and &.
func jsonEscape(k string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(k) != nil {
		return ""
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}
