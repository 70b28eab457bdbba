package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	neturl "net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// The web configuration (exporter-toolkit's --web.config.file) with TLS and
// basic auth, through the binary: every path answers only over TLS and only
// to the right password.

const (
	webUser     = "prometheus"
	webPassword = "correct-horse-battery-4412"
	// webPasswordHash is bcrypt of webPassword at the lowest cost, so the
	// test does not spend its time hashing.
	webPasswordHash = "$2a$04$ec6PliTUbfkOSl2GUNs9f.6XGvXV0It5emTv80WXy50fZVSgib.gO"
)

func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedCertificate(t)
	writeFile(t, filepath.Join(dir, "cert.pem"), string(certPEM))
	writeFile(t, filepath.Join(dir, "key.pem"), string(keyPEM))
	webConfig := filepath.Join(dir, "web.yml")
	writeFile(t, webConfig, "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  "+webUser+": "+webPasswordHash+"\n")

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("cannot use the generated certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)

	addr := freeAddress(t)
	out := startBinary(t, "--demo", "--web.listen-address="+addr, "--web.config.file="+webConfig)
	base := "https://" + addr

	get := func(url, user, password string) (int, string, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	// A child process can say it is ready only through its port: poll,
	// bounded.
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, _, err := get(base+"/-/ready", webUser, webPassword)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready over TLS after 20s (last: %d %v)\n%s", code, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, path := range []string{"/metrics", "/", "/-/healthy", "/-/ready"} {
		for _, c := range []struct {
			name, user, password string
			want                 int
		}{
			{"no credentials", "", "", http.StatusUnauthorized},
			{"wrong password", webUser, "wrong-password", http.StatusUnauthorized},
			{"wrong user", "someone", webPassword, http.StatusUnauthorized},
			{"right password", webUser, webPassword, http.StatusOK},
		} {
			code, body, err := get(base+path, c.user, c.password)
			if err != nil || code != c.want {
				t.Errorf("%s with %s: %d %v, want %d", path, c.name, code, err, c.want)
			}
			if c.want == http.StatusOK && path == "/metrics" && !strings.Contains(body, `upstash_up{account="demo"} 1`) {
				t.Errorf("/metrics over TLS lacks the demo account:\n%.500s", body)
			}
		}
	}

	// Plain HTTP gets no metrics.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "upstash_") {
			t.Errorf("plain HTTP answered %d:\n%.300s", resp.StatusCode, body)
		}
	}
	if strings.Contains(out.String(), webPassword) {
		t.Errorf("the web password appears in the log:\n%s", out)
	}
}

// startBinary runs the exporter binary and stops it with SIGTERM when the
// test ends, which must end it cleanly.
func startBinary(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exporter did not exit cleanly on SIGTERM: %v\n%s", err, out)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("exporter did not exit within 15s of SIGTERM\n%s", out)
		}
	})
	return out
}

// selfSignedCertificate returns a certificate for 127.0.0.1 and its key,
// PEM-encoded.
func selfSignedCertificate(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "upstash_backup_exporter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// slowClientDatabases gives /metrics an answer of a few MB, as a large
// installation's.
const slowClientDatabases = 2000

// TestSlowClientsDoNotBlockScrapes: 8 connections send GET /metrics and
// never read their answers of a few MB. A scrape made meanwhile answers in
// full, and the server's write deadline then closes the stuck connections.
//
// Not parallel: building answers of 2,000 databases under -race takes both
// cores for seconds, which would eat into the scrape deadlines of the
// parallel tests.
func TestSlowClientsDoNotBlockScrapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a bound, not an expectation
	defer cancel()
	fake := upstashtest.NewServer(upstashtest.WithRequestLogLimit(0))
	t.Cleanup(fake.Close)
	fake.AddGeneratedDatabases(slowClientDatabases, 2)
	config := accountConfig(t, "big", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake)
	build := func(t *testing.T, write time.Duration, hook func(*http.Server)) (*http.Client, string) {
		t.Helper()
		e, _, _ := buildInProcess(t, config, func(o *options) {
			o.cacheTTL = time.Hour // one refresh reads the fake; every later scrape reuses it
			o.concurrency = 32
			o.logLevel = "info"
			o.timeouts = serverTimeouts{readHeader: time.Hour, read: time.Hour, write: write, idle: time.Hour}
		})
		url, client := serveOnLoopback(t, e, hook)
		// Reads every database once, with a scrape deadline wide enough
		// for -race on a busy machine.
		body := fullScrape(ctx, t, client, url)
		t.Logf("the /metrics answer of %d databases is %d bytes", slowClientDatabases, len(body))
		return client, url
	}

	t.Run("a scrape is answered while clients do not read", func(t *testing.T) {
		// The stuck answers have no deadline within the test, so only a
		// render slot given back before writing lets the scrape through.
		client, url := build(t, time.Hour, nil)
		for i, c := range sendAndNeverRead(ctx, t, url, 8) {
			if line, err := c.status.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("stuck client %d never got the start of its answer (%q, %v): the render slots are held by clients that do not read", i, line, err)
			}
		}
		fullScrape(ctx, t, client, url)
	})

	t.Run("the write deadline closes their connections", func(t *testing.T) {
		var mu sync.Mutex
		closed := map[string]bool{}
		changed := make(chan struct{}, 1)
		_, url := build(t, 300*time.Millisecond, func(srv *http.Server) {
			srv.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					mu.Lock()
					closed[c.RemoteAddr().String()] = true
					mu.Unlock()
					select {
					case changed <- struct{}{}:
					default:
					}
				}
			}
		})
		stuck := sendAndNeverRead(ctx, t, url, 8)
		allClosed := func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range stuck {
				if !closed[c.LocalAddr().String()] {
					return false
				}
			}
			return true
		}
		for !allClosed() {
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatal("the server never closed the connections of clients that do not read")
			}
		}
		// Each client got the start of its answer, which is far larger than
		// what the kernel's buffers hold between the server and a client
		// that reads nothing (about 10 KiB here): the server's Write could
		// not have finished, so its deadline closed the connection. The
		// rest is not read: an orphaned socket probes a closed window with
		// growing back-off, which would take minutes.
		for i, c := range stuck {
			resp, err := http.ReadResponse(c.status, nil) //nolint:bodyclose // Close would read the rest; the connection is closed at the end
			if err != nil {
				t.Fatalf("stuck client %d: %v", i, err)
			}
			if resp.StatusCode != http.StatusOK || resp.ContentLength < 1<<20 {
				t.Errorf("stuck client %d: %d with %d bytes; want 200 and an answer of megabytes", i, resp.StatusCode, resp.ContentLength)
			}
		}
	})
}

// TestScrapeOutlivesServerTimeouts: a collection longer than the server's
// timeouts still answers, over HTTP/1.1 and HTTP/2, because /metrics moves
// its own write deadline past its collection and its write.
func TestScrapeOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM := selfSignedCertificate(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			fake, entered, release := gatedFake(t)
			fake.AddDatabase(upstashtest.Database{ID: "db-1", Name: "orders"})
			fake.SetListDatabasesFault(upstashtest.Fault{Latency: time.Nanosecond})
			config := accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake)
			e, _, _ := buildInProcess(t, config, func(o *options) {
				o.timeouts = serverTimeouts{readHeader: 50 * time.Millisecond, read: 50 * time.Millisecond, write: 50 * time.Millisecond}
			})
			url, client := serveOnLoopback(t, e, func(srv *http.Server) {
				if proto == "HTTP/2.0" {
					srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
				}
			})

			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound, not an expectation
			defer cancel()
			answer := make(chan string, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "30")
				resp, err := client.Do(req)
				if err != nil {
					answer <- err.Error()
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				answer <- fmt.Sprintf("%d %s %v\n%s", resp.StatusCode, resp.Proto, err, body)
			}()
			waitEntered(t, entered)
			// Lets the server's timeouts pass while list-databases is held;
			// no duration is asserted.
			time.Sleep(300 * time.Millisecond)
			close(release)
			select {
			case got := <-answer:
				if !strings.HasPrefix(got, "200 "+proto+" <nil>") || !strings.Contains(got, `upstash_backup_exporter_collect_success{database_id="db-1"} 1`) {
					t.Errorf("a scrape longer than the server's timeouts answered:\n%.1000s", got)
				}
			case <-ctx.Done():
				t.Fatal("the scrape never answered")
			}
		})
	}
}

// serveOnLoopback serves e.newServer(), adjusted by tune, on a loopback
// listener and returns its URL and a client; over TLS (and so HTTP/2) when
// tune sets a TLSConfig. Accepted connections get a small send
// buffer, so that an answer a client does not read stays in the server's
// Write rather than in the kernel's buffers.
func serveOnLoopback(t *testing.T, e *exporter, tune func(*http.Server)) (string, *http.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.newServer()
	if tune != nil {
		tune(srv)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	scheme := "http://"
	serve := func() { _ = srv.Serve(smallSendBuffers{l}) }
	if srv.TLSConfig != nil {
		scheme = "https://"
		serve = func() { _ = srv.ServeTLS(smallSendBuffers{l}, "", "") }
		roots := x509.NewCertPool()
		roots.AddCert(srv.TLSConfig.Certificates[0].Leaf)
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve()
	}()
	client := &http.Client{Transport: transport}
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		client.CloseIdleConnections()
	})
	return scheme + l.Addr().String(), client
}

type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// stuckClient is a connection that sent GET /metrics and reads nothing
// until the test says so.
type stuckClient struct {
	net.Conn
	status *bufio.Reader
}

// sendAndNeverRead opens n connections with a tiny receive buffer, each
// sending GET /metrics. They are closed when the test ends.
func sendAndNeverRead(ctx context.Context, t *testing.T, url string, n int) []stuckClient {
	t.Helper()
	deadline, _ := ctx.Deadline()
	clients := make([]stuckClient, n)
	for i := range clients {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.(*net.TCPConn).SetReadBuffer(1 << 10); err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(deadline)
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		clients[i] = stuckClient{Conn: c, status: bufio.NewReaderSize(c, 16)}
	}
	return clients
}

// fullScrape scrapes url's /metrics with a 2-minute scrape timeout and
// checks that the answer is whole: a 200, as long as it says, with every
// database read.
func fullScrape(ctx context.Context, t *testing.T, client *http.Client, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "120")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // fails on a body shorter than its Content-Length
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape answered %d, %v", resp.StatusCode, err)
	}
	read := 0
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "upstash_backup_exporter_collect_success{") && strings.HasSuffix(line, "} 1") {
			read++
		}
	}
	if read != slowClientDatabases || !strings.Contains(string(body), `upstash_up{account="big"} 1`) {
		t.Fatalf("the answer shows %d of %d databases read:\n%.2000s", read, slowClientDatabases, body)
	}
	return string(body)
}

// TestBadFlags: a --web.telemetry-path that is empty, relative or another
// route's path, and a --upstash.max-retry-after that is not positive, end
// run with exit code 2 and one line of error, never a panic.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ flag, want string }{
		{"--web.telemetry-path=", "must not be empty"},
		{"--web.telemetry-path=metrics", `must start with "/", got "metrics"`},
		{"--web.telemetry-path=metrics/", `must start with "/"`},
		{"--web.telemetry-path=/", `"/" is the path of another route`},
		{"--web.telemetry-path=/-/healthy", `"/-/healthy" is the path of another route`},
		{"--web.telemetry-path=/-/ready", `"/-/ready" is the path of another route`},
		{"--web.telemetry-path=/-/reload", `"/-/reload" is the path of another route`},
		{"--web.telemetry-path=/debug/pprof/heap", `is under /debug/pprof/`},
		{"--web.telemetry-path=\n/x", `must start with "/", got "\n/x"`},
		{"--upstash.max-retry-after=0s", "--upstash.max-retry-after must be positive"},
		{"--upstash.max-retry-after=-1m", "--upstash.max-retry-after must be positive"},
		{"--upstash.max-response-size=0", "--upstash.max-response-size must be positive"},
		{"--upstash.concurrency=0", "--upstash.concurrency must be at least 1"},
		{"--upstash.timeout=0s", "--upstash.timeout must be positive"},
		{"--upstash.cache-ttl=-1s", "--upstash.cache-ttl must not be negative"},
		{"--upstash.max-requests-per-second=-1", "--upstash.max-requests-per-second must not be negative"},
		{"--scrape.timeout-offset=-1s", "--scrape.timeout-offset must not be negative"},
		{"--shard.index=3", "--shard.index must be from 0 to --shard.count - 1 (0), got 3"},
		{"--shard.count=0", "--shard.index must be from 0 to --shard.count - 1 (-1), got 0"},
		{"--shard.pod-name=exporter", `--shard.pod-name "exporter" does not end in -<ordinal>`},
		{"--shard.pod-name=exporter-x", `--shard.pod-name "exporter-x" does not end in -<ordinal>`},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"--demo", "--web.listen-address=127.0.0.1:0", c.flag}, &stdout, &stderr, func(string) string { return "" })
		out := stderr.String()
		if code != 2 || !strings.Contains(out, c.want) || strings.Count(out, "\n") != 1 || strings.Contains(out, "panic") || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", c.flag, code, &stdout, out, c.want)
		}
	}
}

// TestTelemetryPath: any accepted --web.telemetry-path serves the metrics at
// exactly that path, whatever it would mean as a ServeMux pattern, and the
// other routes stay.
func TestTelemetryPath(t *testing.T) {
	t.Parallel()
	fake := upstashtest.NewServer()
	t.Cleanup(fake.Close)
	config := accountConfig(t, "main", upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, fake)
	for _, path := range []string{"/{x}", "/a b", "/metrics/", "/-/healthy/", "/%zz"} {
		te := startInProcess(t, config, func(o *options) { o.telemetryPath = path })
		if code, body := te.do(t, http.MethodGet, (&neturl.URL{Path: path}).EscapedPath()); code != http.StatusOK || !strings.Contains(body, `upstash_up{account="main"} 1`) {
			t.Errorf("--web.telemetry-path=%q: GET answered %d:\n%.300s", path, code, body)
		}
		if code, body := te.do(t, http.MethodGet, "/-/healthy"); code != http.StatusOK {
			t.Errorf("--web.telemetry-path=%q: /-/healthy answered %d %s", path, code, body)
		}
	}
}
