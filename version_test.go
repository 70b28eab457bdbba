package main

import (
	"debug/buildinfo"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	const rev = "563756bb62200a71916bc7c371377723bcfcf850"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-11-28T09:50:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	for _, tc := range []struct {
		name          string
		bi            *debug.BuildInfo
		version, revs string
	}{
		{"no build information", nil, "0.0.0-dev", ""},
		{"go run", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "0.0.0-dev", ""},
		{"empty module version", &debug.BuildInfo{}, "0.0.0-dev", ""},
		{"go install of a release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3", ""},
		{"go build of a clean checkout",
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261128095000-563756bb6220"}, Settings: vcs("false")},
			"v0.0.0-20261128095000-563756bb6220", rev},
		{"go build of a modified checkout",
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261128095000-563756bb6220+dirty"}, Settings: vcs("true")},
			"v0.0.0-20261128095000-563756bb6220+dirty", rev + "-dirty"},
		{"revision without a module version",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			"0.0.0-dev", rev + "-dirty"},
	} {
		v, r := buildVersion(tc.bi)
		if v != tc.version || r != tc.revs {
			t.Errorf("%s: got version %q, revision %q; want %q, %q", tc.name, v, r, tc.version, tc.revs)
		}
	}
}

// The binary TestMain builds with go build and no ldflags shows the version
// and revision its build information records, in --version and in
// build_info.
func TestVersionOfAPlainGoBuild(t *testing.T) {
	t.Parallel()
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	want, rev := buildVersion(bi)
	if rev == "" {
		rev = "unknown" // prometheus/common's, when the build recorded none
	}
	out, err := exec.CommandContext(t.Context(), binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "version "+want+" ") || !strings.Contains(string(out), "revision: "+rev+")") {
		t.Errorf("--version does not show version %s, revision %s:\n%s", want, rev, out)
	}
	e := startExporter(t, nil, "--demo")
	var buildInfo string
	for line := range strings.Lines(scrape(t, e)) {
		if strings.HasPrefix(line, "upstash_backup_exporter_build_info{") {
			buildInfo = line
		}
	}
	for _, label := range []string{`version="` + want + `"`, `revision="` + rev + `"`} {
		if !strings.Contains(buildInfo, label) {
			t.Errorf("build_info has no %s: %s", label, buildInfo)
		}
	}
}
