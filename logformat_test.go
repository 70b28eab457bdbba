package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logfmtFields splits a line of slog's text handler, as promslog writes it,
// into its keys in order and their values.
func logfmtFields(line string) ([]string, map[string]string, error) {
	var keys []string
	values := map[string]string{}
	rest := line
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || strings.ContainsAny(rest[:eq], ` "`) {
			return nil, nil, fmt.Errorf("no key=value at %q", rest)
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, nil, fmt.Errorf("value of %s: %w", key, err)
			}
			value, _ = strconv.Unquote(quoted)
			rest = rest[len(quoted):]
			if rest != "" && !strings.HasPrefix(rest, " ") {
				return nil, nil, fmt.Errorf("no space after %s=%s", key, quoted)
			}
			rest = strings.TrimPrefix(rest, " ")
		} else {
			value, rest, _ = strings.Cut(rest, " ")
		}
		keys = append(keys, key)
		values[key] = value
	}
	return keys, values, nil
}

// jsonFields is logfmtFields for a line of JSON: its top-level keys in order
// and their values, as text.
func jsonFields(line string) ([]string, map[string]string, error) {
	var record map[string]any
	if err := json.Unmarshal([]byte(line), &record); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil { // {
		return nil, nil, err
	}
	var keys []string
	values := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		keys = append(keys, key)
		if s, ok := record[key].(string); ok {
			values[key] = s
		} else {
			values[key] = string(raw)
		}
	}
	return keys, values, nil
}

// promslogHead checks the fields promslog puts first on every line.
func promslogHead(keys []string, values map[string]string) error {
	if len(keys) < 4 || strings.Join(keys[:4], " ") != "time level source msg" {
		return fmt.Errorf("keys %v do not start with time, level, source, msg", keys)
	}
	var errs []error
	if _, err := time.Parse(time.RFC3339Nano, values["time"]); err != nil {
		errs = append(errs, fmt.Errorf("time: %w", err))
	}
	if !regexp.MustCompile(`^(DEBUG|INFO|WARN|ERROR)$`).MatchString(values["level"]) {
		errs = append(errs, fmt.Errorf("level %q", values["level"]))
	}
	if !regexp.MustCompile(`^[\w.-]+\.go:[0-9]+$`).MatchString(values["source"]) {
		errs = append(errs, fmt.Errorf("source %q is not file.go:line", values["source"]))
	}
	if values["msg"] == "" {
		errs = append(errs, errors.New("empty msg"))
	}
	return errors.Join(errs...)
}

// Each --log.format writes lines of its shape from the first line on:
// tint's for text, promslog's for logfmt and json, through the redacting
// handler every logger of the exporter is wrapped in.
func TestLogFormats(t *testing.T) {
	t.Parallel()
	tintLine := regexp.MustCompile(`^(\S+) (DBG|INF|WRN|ERR) \S`)
	for _, format := range []string{"text", "logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e := startExporter(t, nil, "--demo", "--log.format="+format)
			lines := strings.Split(strings.TrimSpace(e.output.String()), "\n")
			for i, line := range lines {
				var err error
				switch format {
				case "text":
					m := tintLine.FindStringSubmatch(line)
					if m == nil {
						err = errors.New("not time, level, message")
					} else if _, perr := time.Parse(time.RFC3339, m[1]); perr != nil {
						err = perr
					} else if strings.Contains(line, " source=") {
						err = errors.New("text names the source")
					}
				case "logfmt":
					var keys []string
					var values map[string]string
					if keys, values, err = logfmtFields(line); err == nil {
						err = promslogHead(keys, values)
					}
				case "json":
					var keys []string
					var values map[string]string
					if keys, values, err = jsonFields(line); err == nil {
						err = promslogHead(keys, values)
					}
				}
				if err != nil {
					t.Errorf("line %d of --log.format=%s: %v:\n%s", i+1, format, err, line)
				}
			}
			first := lines[0]
			if format != "text" && !strings.Contains(first, "main.go:") {
				t.Errorf("the first line does not name its source in main.go:\n%s", first)
			}
			// A line of the redacting logger, built in newExporter, keeps
			// the caller's source.
			if format == "logfmt" && !regexp.MustCompile(`(?m)^time=\S+ level=INFO source=main\.go:[0-9]+ msg="Starting upstash_backup_exporter" `).MatchString(e.output.String()) {
				t.Errorf("no Starting line with its source:\n%s", e.output)
			}
		})
	}
}

func TestLogfmtFields(t *testing.T) {
	t.Parallel()
	keys, values, err := logfmtFields(`time=2026-11-28T10:01:45.123+00:00 level=INFO source=main.go:160 msg="Configuration loaded" config_source="a \"b\"" accounts=1`)
	if err != nil || strings.Join(keys, ",") != "time,level,source,msg,config_source,accounts" || values["msg"] != "Configuration loaded" || values["config_source"] != `a "b"` || values["accounts"] != "1" {
		t.Errorf("got %v %q %v", keys, values, err)
	}
	if _, _, err := logfmtFields(`2026-11-28T10:01:45Z INF Starting`); err == nil {
		t.Error("a tint line parsed as logfmt")
	}
	var buf bytes.Buffer
	newLogger(&buf, "info", "json").Info("x", "k", 1)
	if keys, _, err := jsonFields(strings.TrimSpace(buf.String())); err != nil || strings.Join(keys, ",") != "time,level,source,msg,k" {
		t.Errorf("json keys %v, %v: %s", keys, err, buf.String())
	}
}
