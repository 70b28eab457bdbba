package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
