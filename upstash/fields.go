package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// wireDecoder decodes entries into a wireBackup with one json.Decoder:
// its state and buffers are reused, where json.Unmarshal would allocate
// them for every entry.
type wireDecoder struct {
	src bytes.Reader
	dec *json.Decoder
	w   wireBackup
	// broken is set once dec has failed on the syntax of an entry: it
	// keeps that error, so it must not decode another answer.
	broken bool
}

var wireDecoders = sync.Pool{New: func() any {
	wd := &wireDecoder{}
	wd.dec = json.NewDecoder(&wd.src)
	return wd
}}

// runOnError is an entry whose literal runs on ("truex", "1.2.3"): the
// decoder stopped after the value, before next.
type runOnError struct{ next byte }

func (e *runOnError) Error() string { return describeByte(e.next) + " after a value" }

func (wd *wireDecoder) decode(elem []byte) (*wireBackup, error) {
	wd.w.reset()
	if decodePlain(elem, wd.w.set) {
		return &wd.w, nil
	}
	wd.w.reset()
	wd.src.Reset(elem)
	start := wd.dec.InputOffset()
	err := wd.dec.Decode(&wd.w)
	if _, syntax := errors.AsType[*json.SyntaxError](err); syntax || errors.Is(err, io.ErrUnexpectedEOF) {
		wd.broken = true
		return nil, err
	}
	if n := wd.dec.InputOffset() - start; n != int64(len(elem)) {
		// What the decoder left buffered would be read as the start
		// of the next entry.
		wd.broken = true
		return nil, &runOnError{elem[n]}
	}
	return &wd.w, err
}

// describeJSON names the kind of a non-array answer, quoting an error
// message when the answer carries one.
func describeJSON(b []byte) string {
	if msg, ok := errorMessage(b); ok {
		if len(msg) > maxExcerpt {
			// Cut between words: a cut through a token would leave a
			// piece of it that redaction, which matches whole secrets,
			// cannot recognise.
			cut := strings.LastIndexFunc(msg[:maxExcerpt+1], unicode.IsSpace)
			if cut < 0 {
				return fmt.Sprintf("an error message of %d bytes", len(msg))
			}
			msg = strings.ToValidUTF8(msg[:cut], "") + " …"
		}
		return "an error message: " + strconv.Quote(msg)
	}
	switch b[0] {
	case '{':
		return "a JSON object"
	case '"':
		return "a JSON string"
	case '<':
		return "HTML or XML"
	default:
		return "text that is not a JSON array"
	}
}

// errorMessage extracts the message of {"error":"..."}, {"message":"..."}
// or a bare JSON string.
func errorMessage(b []byte) (string, bool) {
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s, true
	}
	var obj struct {
		Error   *string `json:"error"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(b, &obj) == nil {
		if obj.Error != nil {
			return *obj.Error, true
		}
		if obj.Message != nil {
			return *obj.Message, true
		}
	}
	return "", false
}

// shortError is an error whose text is shortJSONError's, keeping the
// original for errors.As.
type shortError struct{ err error }

func (e shortError) Error() string { return shortJSONError(e.err) }
func (e shortError) Unwrap() error { return e.err }

// shortJSONError keeps json's error text, which names offsets and types
// but never values, short.
func shortJSONError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// flexString accepts a JSON string, number or boolean as text, and null
// as "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if n := len(b); n >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		// A plain string: no escapes to resolve, no bytes to replace.
		*f = flexString(b[1 : n-1])
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return errors.New("expected a string, got an object or array")
	}
	*f = flexString(b)
	return nil
}

// rawText is flexString into a reused buffer: the text of a JSON string
// (escapes resolved, invalid UTF-8 replaced), number or boolean, and null
// as empty. Reading a plain string allocates nothing.
type rawText []byte

func (f *rawText) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b):
		*f = append((*f)[:0], b[1:len(b)-1]...)
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = append((*f)[:0], s...)
	case bytes.Equal(b, []byte("null")):
		*f = (*f)[:0]
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return errors.New("expected a string, got an object or array")
	default:
		*f = append((*f)[:0], b...)
	}
	return nil
}

var errMissing = errors.New("missing")

// parseTimestamp reads creation_time as Unix seconds, converting values
// that can only be milliseconds.
func parseTimestamp(raw json.RawMessage) (int64, error) {
	v, err := parseNumber(raw)
	if err != nil {
		return 0, err
	}
	if v > millisecondsAbove {
		v /= 1000
	}
	if v <= 0 {
		return 0, fmt.Errorf("%d is not a time", v)
	}
	return v, nil
}

func parseNumber(raw json.RawMessage) (int64, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return 0, errMissing
	}
	if n, ok := plainInt(b); ok {
		return n, nil
	}
	text := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return 0, errors.New("unreadable string")
		}
		text = strings.TrimSpace(text)
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is not a number", describeValue(b))
	}
	// float64(math.MaxInt64) is 2^63, which int64 cannot hold: converting
	// it would wrap to a negative number.
	if f >= 1<<63 || f < -(1<<63) {
		return 0, fmt.Errorf("%s is out of range", describeValue(b))
	}
	return int64(f), nil
}

// quoteShort quotes a short text and only measures a long one, which keeps
// reasons (logged) short and, like describeValue, never cuts a value.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("of %d bytes", len(s))
}

// plainInt reads an unsigned decimal integer of up to 18 digits without
// allocating; anything else is left to the general path.
func plainInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// describeValue repeats a short JSON value and only measures a long one:
// a piece of a long value could be a piece of a secret that redaction,
// which matches whole secrets, cannot recognise.
func describeValue(b []byte) string {
	if len(b) <= 32 {
		return string(b)
	}
	return fmt.Sprintf("a value of %d bytes", len(b))
}

// parseFlag reads true/false as a boolean, a string ("true", "1", "yes")
// or a number; anything else, or absence, is false.
func parseFlag(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	switch string(b) { // compiled without allocating
	case "", "false", `"false"`, "null":
		return false
	case "true", `"true"`:
		return true
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes":
			return true
		}
	case float64:
		return t != 0
	}
	return false
}
