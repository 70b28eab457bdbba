package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// direct is the fake's listener. It answers ordinary list-databases and
// list-backup calls itself, each in one write of bytes encoded beforehand,
// and hands every other call, with its connection and what was read of
// it, to net/http through Accept. Per call net/http costs the fake a
// goroutine more, allocations, a read that finds nothing and, for answers
// over its 4 KiB buffer, a second write; on a small machine that CPU is
// taken from the exporter a benchmark measures.
//
// A call is ordinary when it is a GET over HTTP/1.1 of a plain path, with
// the accepted credentials spelled as Go's client does and no body or
// Connection header, and the api would answer it unchanged
// (upstashtest.Server.DirectAnswer) with no stream set. A connection handed
// over stays with net/http, so the exporter's list-databases calls are
// answered here too: each would take a connection away. Unlike net/http,
// the listener does not read while a call waits on latency, so a client
// hanging up is seen only when the answer is written.
type direct struct {
	net.Listener
	f *fake
	// auth is the Authorization header of the accepted credentials.
	auth   string
	handed chan net.Conn
	done   chan struct{}
	// acceptErr is set before failed is closed, when accepting failed.
	acceptErr error
	failed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{} // served here, closed with the listener
}

func newDirect(l net.Listener, f *fake) *direct {
	d := &direct{
		Listener: l,
		f:        f,
		auth:     "Basic " + base64.StdEncoding.EncodeToString([]byte(f.email+":"+f.apiKey)),
		handed:   make(chan net.Conn),
		done:     make(chan struct{}),
		failed:   make(chan struct{}),
		conns:    map[net.Conn]struct{}{},
	}
	go d.acceptLoop()
	return d
}

func (d *direct) acceptLoop() {
	for {
		c, err := d.Listener.Accept()
		if err != nil {
			d.acceptErr = err
			close(d.failed)
			return
		}
		go d.serve(c)
	}
}

// Accept returns the next connection handed to net/http.
func (d *direct) Accept() (net.Conn, error) {
	select {
	case c := <-d.handed:
		return c, nil
	case <-d.done:
		return nil, net.ErrClosed
	case <-d.failed:
		return nil, d.acceptErr
	}
}

// Close stops listening and closes the connections served here; net/http
// closes those handed to it.
func (d *direct) Close() error {
	err := net.ErrClosed
	d.closeOnce.Do(func() {
		close(d.done)
		err = d.Listener.Close()
		d.mu.Lock()
		defer d.mu.Unlock()
		for c := range d.conns {
			_ = c.Close()
		}
		clear(d.conns)
	})
	return err
}

// track adds c to the connections served here, false once closed.
func (d *direct) track(c net.Conn, add bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.done:
		return false
	default:
	}
	if add {
		d.conns[c] = struct{}{}
	} else {
		delete(d.conns, c)
	}
	return true
}

func (d *direct) serve(c net.Conn) {
	if !d.track(c, true) {
		_ = c.Close()
		return
	}
	br := bufio.NewReaderSize(c, 4<<10)
	var head, out []byte
	// One timer per connection, reset for each call: a stopped timer
	// delivers no stale tick since Go 1.23.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		path, ok, err := d.readHead(br, &head)
		if err != nil {
			break
		}
		latency, body := time.Duration(0), []byte(nil)
		id, isBackups := strings.CutPrefix(path, "/redis/list-backup/")
		if ok {
			latency, body, ok = d.f.api.DirectAnswer(path)
		}
		if ok && isBackups {
			_, streamed := d.f.stream(id) // a stream replaces the answer
			ok = !streamed
		}
		if !ok {
			d.hand(&handedConn{Conn: c, head: head, br: br})
			return
		}
		if isBackups {
			d.f.directBackups.Add(1)
		} else {
			d.f.directLists.Add(1)
		}
		if !d.sleep(timer, latency) {
			break
		}
		if err := writeAnswer(c, &out, body); err != nil {
			break
		}
	}
	d.track(c, false)
	_ = c.Close()
}

// hand gives c to net/http, or closes it when the listener closed first.
func (d *direct) hand(c *handedConn) {
	if d.track(c.Conn, false) {
		select {
		case d.handed <- c:
			return
		case <-d.done:
		}
	}
	_ = c.Close()
}

func (d *direct) sleep(t *time.Timer, latency time.Duration) bool {
	if latency <= 0 {
		return true
	}
	t.Reset(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.done:
		return false
	}
}

// readHead reads a request head into *head (emptied first) and reports
// the path of an ordinary call, or ok false as soon as the call is not
// one; the rest of its head is then still unread. err is set when the
// connection ended or broke before a whole head.
func (d *direct) readHead(br *bufio.Reader, head *[]byte) (path string, ok bool, err error) {
	*head = (*head)[:0]
	host, authorized := false, false
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		*head = append(*head, line...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return "", false, nil
		case err != nil:
			return "", false, err
		case n == 0:
			if path, ok = getPath(line); !ok {
				return "", false, nil
			}
			continue
		case string(line) == "\r\n":
			return path, host && authorized, nil
		}
		name, value, found := bytes.Cut(bytes.TrimSuffix(line, []byte("\r\n")), []byte(":"))
		if !found || len(name) == 0 || bytes.ContainsAny(name, " \t\r\n") {
			return "", false, nil // folded or malformed: net/http's to judge
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			host = true
		case bytes.EqualFold(name, []byte("Authorization")):
			ok = string(value) == d.auth
			authorized = ok
		case bytes.EqualFold(name, []byte("Content-Length")):
			ok = string(value) == "0"
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Connection")),
			bytes.EqualFold(name, []byte("Expect")), bytes.EqualFold(name, []byte("Upgrade")):
			ok = false
		}
		if !ok {
			return "", false, nil
		}
	}
}

// getPath returns the path of a request line "GET {path} HTTP/1.1\r\n"
// whose path needs no unescaping or cleaning and has no query.
func getPath(line []byte) (string, bool) {
	const prefix, suffix = "GET /", " HTTP/1.1\r\n"
	path, hasPrefix := bytes.CutPrefix(line, []byte(prefix))
	path, hasSuffix := bytes.CutSuffix(path, []byte(suffix))
	if !hasPrefix || !hasSuffix || bytes.Contains(path, []byte("..")) {
		return "", false
	}
	for _, c := range path {
		plain := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || bytes.IndexByte([]byte("-_.~/"), c) >= 0
		if !plain {
			return "", false
		}
	}
	return "/" + string(path), true
}

// writeAnswer writes a 200 answer with body, as the api's handler sends
// it, in one write: copied after the head into *buf when small, else
// (list-databases of thousands) from where it is, with writev.
func writeAnswer(c net.Conn, buf *[]byte, body []byte) error {
	b := append((*buf)[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	if len(body) > 64<<10 {
		*buf = b
		bufs := net.Buffers{b, body}
		_, err := bufs.WriteTo(c)
		return err
	}
	*buf = append(b, body...)
	_, err := c.Write(*buf)
	return err
}
