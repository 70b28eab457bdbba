package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const (
	user = "ops@example.com"
	key  = "k3y/with+odd&chars<>\"'=="
)

func TestStringRedactsEveryEncoding(t *testing.T) {
	t.Parallel()
	r := New(Credential{User: user, Key: key})
	jsonKey, _ := json.Marshal(key)
	cases := map[string]string{
		"raw":             key,
		"query-escaped":   url.QueryEscape(key),
		"path-escaped":    url.PathEscape(key),
		"lower-percent":   strings.ToLower(url.QueryEscape(key)),
		"html-escaped":    html.EscapeString(key),
		"json-escaped":    string(jsonKey[1 : len(jsonKey)-1]),
		"basic":           base64.StdEncoding.EncodeToString([]byte(user + ":" + key)),
		"basic-url":       base64.RawURLEncoding.EncodeToString([]byte(user + ":" + key)),
		"key-base64":      base64.StdEncoding.EncodeToString([]byte(key)),
		"user:key":        user + ":" + key,
		"query user:key":  url.QueryEscape(user + ":" + key),
		"split in two":    key[:9] + "\n" + key[9:],
		"split in spaces": strings.Join(strings.Split(key, ""), " "),
	}
	for name, form := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := "before " + form + " after"
			out := r.String(in)
			if out == in || strings.Contains(out, form) {
				t.Fatalf("String(%q) = %q: the secret is still there", in, out)
			}
			if !r.Contains(in) {
				t.Errorf("Contains(%q) = false", in)
			}
		})
	}
}

func TestStringKeepsOtherText(t *testing.T) {
	t.Parallel()
	r := New(Credential{User: user, Key: key})
	for _, s := range []string{"", "plain text", "HTTP 503: maintenance", user} {
		if got := r.String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
	var none *Redactor
	if none.String(key) != key || !none.Empty() || !New().Empty() || !New(Credential{User: user}).Empty() {
		t.Error("a Redactor without keys must change nothing")
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	r := Join(New(Credential{User: "a", Key: "first-key-1"}), nil, New(Credential{User: "b", Key: "second-key-2"}))
	if got := r.String("first-key-1 second-key-2"); got != Placeholder+" "+Placeholder {
		t.Errorf("Join redacts %q", got)
	}
}

func TestHandlerRedactsMessagesAndValues(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := New(Credential{User: user, Key: key})
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil), func() *Redactor { return r }))
	log.With("bound", url.QueryEscape(key)).Error("message "+key,
		"err", errors.New("wrapped "+html.EscapeString(key)),
		"any", []string{key},
		slog.Group("g", "inner", key))
	out := buf.String()
	for _, form := range []string{key, url.QueryEscape(key), html.EscapeString(key), "k3y"} {
		if strings.Contains(out, form) {
			t.Errorf("log line holds %q: %s", form, out)
		}
	}
	if !strings.Contains(out, Placeholder) {
		t.Errorf("log line has no placeholder: %s", out)
	}
}
