package config

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/redact"
)

// MaxKeyFileSize bounds an api_key_file: a Developer API key is a few dozen
// bytes, so anything larger is not a key file.
const MaxKeyFileSize = 4096

// MaxConfigFileSize bounds the configuration file: thousands of databases
// fit in far less.
const MaxConfigFileSize = 4 << 20

// ReadKeyFile is ReadSmallFile of at most MaxKeyFileSize bytes, with a
// UTF-8 byte order mark and surrounding white space trimmed.
func ReadKeyFile(path string) (string, error) {
	data, err := ReadSmallFile(path, MaxKeyFileSize)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(string(data), "\uFEFF")), nil
}

// ReadSmallFile reads a regular file (or a symlink to one) of at most limit
// bytes without ever blocking: a named pipe, a device or a larger file is
// refused before anything is read. The file is opened non-blocking and
// checked again once open, so a named pipe put in its place after the first
// check cannot stall the caller either.
func ReadSmallFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkSmallFile(path, fi, limit); err != nil {
		return nil, err
	}
	return readOpened(path, limit)
}

// readOpened opens path without blocking, checks what was opened and reads
// it with a bound.
func readOpened(path string, limit int64) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkSmallFile(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: grew past %d bytes while read", path, limit)
	}
	return data, nil
}

// checkSmallFile accepts a regular file of at most limit bytes.
func checkSmallFile(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s is %d bytes, more than %d", path, fi.Size(), limit)
	}
	return nil
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// KeySource gives an account's API key to each call. A key of api_key_file
// is read again when the file changes (its size, modification time, or the
// file itself, as after a rename over it or the swap of a Kubernetes
// secret's symlink), so a rotated key is used from the next call on,
// without a reload. The file is stat'ed once a call.
type KeySource struct {
	email string
	// path is api_key_file, resolved; "" for a key from elsewhere, which
	// never changes.
	path string
	log  *slog.Logger
	// learn is told every new key before any call sends it.
	learn func(redact.Credential)

	mu sync.Mutex
	// key is the last key read; stamp the file it was read from, nil
	// before the first check.
	key   string
	stamp fs.FileInfo
	// failing is set once a failure to read the file is logged, so it is
	// logged once until a read succeeds.
	failing bool
}

// NewKeySource gives the key of a: its api_key_file's content, read again
// when the file changes, or else APIKey. learn, when not nil, is told every
// new key read before any call sends it; log receives the failures to read
// the file and the news of a change.
func NewKeySource(a Account, log *slog.Logger, learn func(redact.Credential)) *KeySource {
	return &KeySource{email: a.Email, path: a.APIKeyFile, key: string(a.APIKey), log: log, learn: learn}
}

// Key is the key to send now. On a failure to read a changed file, the
// last key read stays in use and the failure is logged once.
func (k *KeySource) Key() string {
	if k.path == "" {
		return k.key
	}
	fi, err := os.Stat(k.path)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil && k.stamp != nil && os.SameFile(fi, k.stamp) && fi.Size() == k.stamp.Size() && fi.ModTime().Equal(k.stamp.ModTime()) {
		return k.key
	}
	var key string
	if err == nil {
		key, err = ReadKeyFile(k.path)
	}
	if err == nil && key == "" {
		err = fmt.Errorf("%s is empty", k.path)
	}
	if err != nil {
		if !k.failing {
			// The error names the file and the cause, never a key.
			k.log.Warn("Could not read api_key_file again; calls go on with the last key read", "file", k.path, "err", err)
			k.failing = true
		}
		return k.key
	}
	k.failing = false
	k.stamp = fi
	if key != k.key {
		if k.learn != nil {
			k.learn(redact.Credential{User: k.email, Key: key})
		}
		k.key = key
		k.log.Info("api_key_file changed; the next calls send the new key", "file", k.path)
	}
	return k.key
}
