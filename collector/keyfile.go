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

// MaxConfigFileSize bounds the configuration file: thousands of databases
// fit in far less.
const MaxConfigFileSize = 4 << 20

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
	data, err := readSmallFile(path, MaxKeyFileSize)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(string(data), "\uFEFF")), nil
}

// readSmallFile reads a regular file (or a symlink to one) of at most limit
// bytes without ever blocking: a named pipe, a device or a larger file is
// refused before anything is read. The file is opened non-blocking and
// checked again once open, so a named pipe put in its place after the first
// check cannot stall the caller either.
func readSmallFile(path string, limit int64) ([]byte, error) {
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
