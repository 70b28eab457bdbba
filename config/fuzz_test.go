package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever the file holds, Parse returns a Config or errors,
// never panics, and each error is an *Error naming the file.
func FuzzParse(f *testing.F) {
	fixtures, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range fixtures {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "testdata/fuzz.yml", func(string) string { return "" })
		if err == nil {
			if cfg == nil || len(cfg.Accounts) == 0 {
				t.Fatalf("accepted without accounts: %v", cfg)
			}
			return
		}
		var joined interface{ Unwrap() []error }
		errs := []error{err}
		if errors.As(err, &joined) {
			errs = joined.Unwrap()
		}
		for _, e := range errs {
			var ce *Error
			if !errors.As(e, &ce) || ce.File != "testdata/fuzz.yml" {
				t.Fatalf("error %q is not an *Error of the file", e)
			}
		}
	})
}
