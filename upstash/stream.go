package upstash

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode"
)

// Reading an answer as a stream. walkArray walks the top-level JSON array
// of an answer and hands each element to a function, one at a time, so an
// answer of any size costs a read buffer and one element, never the whole
// body. It checks the array's own syntax (brackets, commas, what follows
// the closing bracket) and finds where each element ends by tracking
// strings, escapes and nesting; the element itself is checked by whoever
// decodes it.

const (
	// maxEntryBytes bounds one element of an array: a backup or a
	// database is a few hundred bytes. A larger element is skipped
	// without being kept in memory.
	maxEntryBytes = 64 << 10
	// maxErrorBody bounds what is read of an answer that is not an array,
	// to say what it was.
	maxErrorBody = 64 << 10
	// readBufferBytes is the read buffer of one answer.
	readBufferBytes = 16 << 10
)

// readers holds the read buffers of answers no longer in flight.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferBytes) }}

// errUnexpectedEnd is the error of an answer that ends inside its array.
var errUnexpectedEnd = errors.New("invalid JSON array: unexpected end of JSON input")

// walkArray reads a JSON array from r and calls each for every element in
// order, with the element's bytes (valid until the next call) or nil when
// the element is larger than maxEntryBytes. `null` is an empty array; any
// other answer that is not an array is rejected with an error saying what
// it looked like. White space around the answer may be any Unicode space;
// inside it, JSON's. An error of r other than io.EOF, or of each, is
// returned as is.
func walkArray(r io.Reader, each func(i int, elem []byte) error) error {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	first, err := skipSpace(br)
	if errors.Is(err, io.EOF) {
		return errors.New("empty answer, expected a JSON array")
	}
	if err != nil {
		return err
	}
	if first != '[' {
		return notArray(br, first)
	}
	var s elementScanner
	c, err := skipJSONSpace(br)
	if err != nil {
		return endError(err)
	}
	if c != ']' {
		for i := 0; ; i++ {
			elem, err := s.read(br, c, i)
			if err != nil {
				return err
			}
			if err := each(i, elem); err != nil {
				return err
			}
			if c, err = skipJSONSpace(br); err != nil {
				return endError(err)
			}
			if c == ']' {
				break
			}
			if c != ',' {
				return fmt.Errorf("invalid JSON array: %s after entry %d", describeByte(c), i)
			}
			if c, err = skipJSONSpace(br); err != nil {
				return endError(err)
			}
		}
	}
	// Nothing but white space may follow the array.
	for {
		ru, _, err := br.ReadRune()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !unicode.IsSpace(ru) {
			return errors.New("invalid JSON array: data after the closing bracket")
		}
	}
}

func endError(err error) error {
	if errors.Is(err, io.EOF) {
		return errUnexpectedEnd
	}
	return err
}

// skipSpace skips Unicode white space and returns the byte after it.
func skipSpace(br *bufio.Reader) (byte, error) {
	for {
		ru, _, err := br.ReadRune()
		if err != nil {
			return 0, err
		}
		if !unicode.IsSpace(ru) {
			// Hand back the rune's first byte; the rest of it, if any,
			// is read by whoever comes next.
			if err := br.UnreadRune(); err != nil {
				return 0, err
			}
			return br.ReadByte()
		}
	}
}

// skipJSONSpace skips JSON's white space and returns the byte after it.
func skipJSONSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

// notArray reads, up to maxErrorBody, an answer that does not start with
// '[' (first is its first byte) and returns nil for `null` or an error
// saying what the answer is.
func notArray(br *bufio.Reader, first byte) error {
	rest, err := io.ReadAll(io.LimitReader(br, maxErrorBody))
	if err != nil {
		return err
	}
	body := append([]byte{first}, rest...)
	whole := len(rest) < maxErrorBody
	if !whole {
		if _, err := br.ReadByte(); errors.Is(err, io.EOF) {
			whole = true
		}
	}
	trimmed := bytes.TrimRightFunc(body, unicode.IsSpace)
	if whole && string(trimmed) == "null" {
		return nil
	}
	if !whole || len(trimmed) == 0 {
		// A cut answer is described by its first byte only: parsing a
		// piece of it could quote a piece of a secret.
		trimmed = trimmed[:1]
	}
	return fmt.Errorf("expected a JSON array, got %s", describeJSON(trimmed))
}

// describeByte names an unexpected byte without quoting more of the answer.
func describeByte(c byte) string {
	return "unexpected " + strconv.QuoteRune(rune(c))
}

// elementScanner finds where an element ends and copies it into a reused
// buffer.
type elementScanner struct {
	buf      []byte
	tooLarge bool
	kind     byte // '{' for an object or array, '"' for a string, 0 for a number or literal
	depth    int
	inString bool
	escaped  bool
}

// read reads the element that starts with first (already read).
func (s *elementScanner) read(br *bufio.Reader, first byte, i int) ([]byte, error) {
	s.buf, s.tooLarge = append(s.buf[:0], first), false
	s.depth, s.inString, s.escaped = 0, false, false
	switch {
	case first == '{' || first == '[':
		s.kind, s.depth = '{', 1
	case first == '"':
		s.kind, s.inString = '"', true
	case literalByte(first):
		s.kind = 0
	default:
		return nil, fmt.Errorf("invalid JSON array: %s at entry %d", describeByte(first), i)
	}
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return nil, endError(err)
			}
		}
		chunk, _ := br.Peek(br.Buffered())
		n, done := s.scan(chunk)
		s.keep(chunk[:n])
		_, _ = br.Discard(n) // n bytes are buffered
		if done {
			if s.tooLarge {
				return nil, nil
			}
			return s.buf, nil
		}
	}
}

// scan returns how many bytes of chunk belong to the element and whether
// the element ends there.
func (s *elementScanner) scan(chunk []byte) (int, bool) {
	if s.kind == 0 {
		for i, c := range chunk {
			if !literalByte(c) {
				return i, true
			}
		}
		return len(chunk), false
	}
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if s.inString {
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.inString = false
				if s.kind == '"' {
					return i + 1, true
				}
			default:
				// Skip the plain run of a string at once: up to its
				// quote, or to a backslash before it.
				j := bytes.IndexByte(chunk[i:], '"')
				if j < 0 {
					j = len(chunk) - i
				}
				if k := bytes.IndexByte(chunk[i:i+j], '\\'); k >= 0 {
					j = k
				}
				if i+j == len(chunk) {
					return len(chunk), false
				}
				i += j - 1
			}
			continue
		}
		switch c {
		case '"':
			s.inString = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(chunk), false
}

// keep adds b to the element unless it has grown past maxEntryBytes.
func (s *elementScanner) keep(b []byte) {
	if s.tooLarge {
		return
	}
	if len(s.buf)+len(b) > maxEntryBytes {
		s.tooLarge, s.buf = true, s.buf[:0]
		return
	}
	s.buf = append(s.buf, b...)
}

// literalByte reports whether c can be part of a number, true, false or
// null. What it lets through is checked by the element's decoder.
func literalByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.'
}
