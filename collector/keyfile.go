package collector

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/prometheus/common/config"
)

// MaxKeyFileSize bounds an api_key_file: a Developer API key is a few dozen
// bytes, so anything larger is not a key file.
const MaxKeyFileSize = 4096

// keyFile reads the key of api_key_file name, relative to the configuration
// file's directory.
func (v *validator) keyFile(name string, i int) config.Secret {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(v.dir, path)
	}
	key, err := readKeyFile(path)
	if err != nil {
		// The errors name the file and the cause, never its content.
		v.fail(err, "accounts", i, "api_key_file")
		return ""
	}
	if key == "" {
		v.fail(fmt.Errorf("file %q is empty", name), "accounts", i, "api_key_file")
	}
	return config.Secret(key)
}

// readKeyFile reads a key file without ever blocking or reading more than
// MaxKeyFileSize bytes: only a regular file (or a symlink to one) of at
// most that size is read. The file is opened non-blocking and checked again
// once open, so a named pipe put in its place after the first check cannot
// stall the caller. A UTF-8 byte order mark and surrounding white space are
// trimmed.
func readKeyFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if err := checkKeyFile(path, fi); err != nil {
		return "", err
	}
	return readOpenedKeyFile(path)
}

// readOpenedKeyFile opens path without blocking, checks what was opened and
// reads it with a bound.
func readOpenedKeyFile(path string) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if err := checkKeyFile(path, fi); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return "", err
	}
	if len(data) > MaxKeyFileSize {
		return "", fmt.Errorf("%s: grew past %d bytes while read", path, MaxKeyFileSize)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(data), "\uFEFF")), nil
}

// checkKeyFile accepts a regular file of at most MaxKeyFileSize bytes.
func checkKeyFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxKeyFileSize {
		return fmt.Errorf("%s is %d bytes, more than %d", path, fi.Size(), MaxKeyFileSize)
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
