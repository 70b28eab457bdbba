package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestCode keeps test servers and fakes out of the
// exporter: --demo serves its simulated API from internal/demo, in process,
// not through the fake the tests use.
func TestBinaryLinksNoTestCode(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	const module = "github.com/upstash-backup-exporter/upstash_backup_exporter/"
	for pkg := range strings.FieldsSeq(string(out)) {
		ownTest := strings.HasPrefix(pkg, module) && strings.HasSuffix(pkg, "test")
		if pkg == "net/http/httptest" || ownTest {
			t.Errorf("the exporter binary links %s, a package meant for tests", pkg)
		}
	}
}

// TestCollectorReadsNoYAML: the collector receives accounts resolved by
// package config; reading the file is config's business alone.
func TestCollectorReadsNoYAML(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-f", `{{join .Imports "\n"}}`, "./collector").Output()
	if err != nil {
		t.Fatalf("go list ./collector: %v", err)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		if strings.Contains(pkg, "yaml") {
			t.Errorf("package collector imports %s", pkg)
		}
	}
}
