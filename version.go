package main

import (
	"cmp"
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// fallbackVersion is the version of a build that tells none.
const fallbackVersion = "0.0.0-dev"

// stampVersion fills what the release ldflags (Makefile, Dockerfile) did
// not set, as after a plain go build or go install, from what the Go
// toolchain recorded of the build. The branch is not recorded, so it stays
// empty without ldflags.
func stampVersion(bi *debug.BuildInfo) {
	v, rev := buildVersion(bi)
	version.Version = cmp.Or(version.Version, v)
	version.Revision = cmp.Or(version.Revision, rev)
}

// buildVersion is the version and revision bi records: the main module's
// version unless it is "(devel)" (go run, or a build outside a VCS
// checkout), else fallbackVersion; and the VCS revision with "-dirty" when
// the tree had uncommitted changes, else "". bi may be nil.
func buildVersion(bi *debug.BuildInfo) (ver, revision string) {
	ver = fallbackVersion
	if bi == nil {
		return ver, ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		ver = v
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && revision != "" {
		revision += "-dirty"
	}
	return ver, revision
}
