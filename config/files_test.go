package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keyFileConfig writes a configuration whose account reads api_key_file
// keyFile, and returns its path.
func keyFileConfig(t *testing.T, dir, keyFile string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yml")
	text := "accounts:\n  - name: a\n    email: ops@example.com\n    api_key_file: " + keyFile + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadWithin runs LoadConfig in a goroutine and fails the test if it has
// not returned within a generous bound: a key file must never block.
func loadWithin(t *testing.T, path string) (*Config, error) {
	t.Helper()
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := Load(path, env(nil))
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) still blocked after 10s", path)
		return nil, nil
	}
}

func TestKeyFileNamedPipeFailsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := loadWithin(t, keyFileConfig(t, dir, "key.fifo"))
	want := "config.yml:4: accounts[0].api_key_file: " + fifo + ": not a regular file (a named pipe)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %v, want it to end in %s", err, want)
	}

	// A pipe swapped in after the first check: opening it does not wait
	// for a writer, and the check of the opened file refuses it.
	done := make(chan error, 1)
	go func() {
		_, err := readOpened(fifo, MaxKeyFileSize)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
			t.Errorf("opened pipe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading an opened pipe blocked")
	}
}

func TestKeyFileTooLargeIsNotRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Sparse: 1 GiB that takes no disk and would take a gigabyte of
	// memory to read.
	if err := os.Truncate(big, 1<<30); err != nil {
		t.Fatal(err)
	}
	_, err := loadWithin(t, keyFileConfig(t, dir, "big.key"))
	want := "accounts[0].api_key_file: " + big + " is 1073741824 bytes, more than 4096"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %v, want it to end in %s", err, want)
	}
}

func TestKeyFileTrimsByteOrderMarkAndFollowsSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bom.key"), []byte("\uFEFF bom-key-0004 \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bom.key", filepath.Join(dir, "link.key")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bom.key", "link.key"} {
		cfg, err := loadWithin(t, keyFileConfig(t, dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if key := string(cfg.Accounts[0].APIKey); key != "bom-key-0004" {
			t.Errorf("%s: key %q, want bom-key-0004", name, key)
		}
	}
}

func TestConfigFileNamedPipeFailsAtOnce(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "config.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := loadWithin(t, fifo)
	if err == nil || !strings.Contains(err.Error(), "read configuration: "+fifo+": not a regular file (a named pipe)") {
		t.Errorf("error %v, want a refused named pipe", err)
	}
}
