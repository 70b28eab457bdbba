package main

import (
	"strconv"
	"strings"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/config"
)

// cgroupMemoryMax is the memory limit of the process's cgroup (v2), as a
// container sees it.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimit is the Go memory limit to set when GOMEMLIMIT is unset and
// the cgroup file at path holds a number rather than "max": 90% of it. The
// runtime then collects harder as the heap nears the cgroup's limit instead
// of being OOM-killed; the other 10% is for what the Go limit does not
// count, such as the kernel's buffers charged to the cgroup.
func memoryLimit(getenv func(string) string, path string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	b, err := config.ReadSmallFile(path, 64)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n / 10 * 9, true
}
