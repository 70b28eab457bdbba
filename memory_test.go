package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// The shipped Deployment limits the container to 128 MiB; the exporter
// must stay well inside it whatever the API answers.
const (
	testCgroupMemoryMax = 128 << 20 // the cgroup's memory.max, when one can be made
	// memoryBudget is the peak RSS (VmHWM) the exporter must stay under.
	// The streams case peaks at 83-87 MiB on an idle 2-core machine and
	// reached 101 MiB while the rest of the race run kept both cores busy
	// (the collector then runs behind the allocation); 112 MiB leaves that
	// room and 16 MiB below the cgroup's limit.
	memoryBudget  = 112 << 20
	memoryGuard   = 1 << 30 // the test kills the exporter past this, to spare the machine
	streamDBs     = 64
	streamMiB     = 200
	largeListSize = 100_000
	// normalDBs are read beside the streams, each listing normalListSize
	// backups: a database of ordinary size must not notice them.
	normalDBs      = 8
	normalListSize = 500
	memoryScrapeIn = 150 * time.Second
)

// TestMemoryUnderHostileAnswers runs the exporter binary, GOMEMLIMIT unset,
// against the fake API of scripts/fakeapi (a process of its own) and
// checks its peak RSS:
//
//   - large list: one database listing 100,000 backups, read in full;
//   - streams: 64 databases each answering list-backup with a 200 MiB
//     stream of valid, distinct entries, read 64 at a time
//     (--upstash.concurrency=64), beside 8 databases of 500 backups.
//
// After one scrape the process must be alive, /metrics answer 200, peak RSS
// (VmHWM) stay under memoryBudget (112 MiB), the streamed databases show collect_success 0
// (over the answer limit) and the other databases all their backups. A
// database of more than 1,024 backups read while hostile answers fill the
// account's budget of backups in flight may fail with them (README,
// "Failure modes"); that is why the large list is a case of its own. When the
// test runs as root with a memory cgroup controller (v2, or a v1 memory
// hierarchy), the exporter runs in a cgroup of its own limited to 128 MiB
// and must not be OOM-killed; otherwise the peak RSS alone is checked. The exporter is
// killed if its RSS passes 1 GiB, so a failing run does not take the
// machine's memory with it.
func TestMemoryUnderHostileAnswers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status: Linux only")
	}
	if testing.Short() {
		t.Skip("streams gigabytes through the exporter; skipped with -short")
	}
	fakeapi := filepath.Join(t.TempDir(), "fakeapi")
	build := exec.Command("go", "build", "-o", fakeapi, "./scripts/fakeapi")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building scripts/fakeapi: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name     string
		streams  int
		listed   int // databases that are not streamed
		listSize int // backups each of them lists
	}{
		{"large list", 0, 1, largeListSize},
		{"streams", streamDBs, normalDBs, normalListSize},
	} {
		t.Run(tc.name, func(t *testing.T) { runMemoryCase(t, fakeapi, tc.streams, tc.listed, tc.listSize) })
	}
}

func runMemoryCase(t *testing.T, fakeapi string, streams, listed, listSize int) {
	api := startFakeAPI(t, fakeapi, "--databases="+strconv.Itoa(streams+listed), "--backups=1")
	var lists []string
	for i := range listed {
		id := upstashtest.GeneratedDatabaseID(streams + i)
		lists = append(lists, id)
		fakeControlMain(t, api, "backups", url.Values{"db": {id}, "count": {strconv.Itoa(listSize)}, "interval": {"1h"}})
	}
	var streamed []string
	for i := range streams {
		id := upstashtest.GeneratedDatabaseID(i)
		streamed = append(streamed, id)
		fakeControlMain(t, api, "stream", url.Values{"db": {id}, "mb": {strconv.Itoa(streamMiB)}})
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	writeFile(t, config, fmt.Sprintf("accounts:\n  - name: memory\n    email: %q\n    api_key: %q\n    api_url: %q\n",
		upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, api))
	addr := freeAddress(t)
	cmd := exec.Command(binary, "--config.file="+config, "--web.listen-address="+addr,
		"--upstash.concurrency=64", "--log.level=warn")
	// GOMEMLIMIT and GOGC unset: the runtime's defaults, as in the image.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("exporter output:\n%s", logSummary(out.String(), streamed))
		}
	}()
	cg := newMemoryCgroup(t, cmd.Process.Pid)
	if cg == "" {
		t.Logf("no memory cgroup to use (needs root and a cgroup memory controller); measuring peak RSS only")
	}
	guard := guardRSS(cmd.Process, exited)

	metricsURL := "http://" + addr + "/metrics"
	if err := waitReady(t.Context(), "http://"+addr+"/-/ready", exited); err != nil {
		t.Fatalf("exporter not ready: %v", err)
	}
	start := time.Now()
	// One scrape that waits for every read: its deadline is longer than
	// any read can take (--upstash.timeout, 10s, and the 2-minute refresh).
	code, body, err := scrapeMemory(t.Context(), metricsURL)
	elapsed := time.Since(start)
	hwm, hwmErr := procStatusKiB(cmd.Process.Pid, "VmHWM")
	guardHWM, killed := guard()
	if killed {
		<-exited
	}
	alive := true
	select {
	case <-exited:
		alive = false
	default:
	}
	if hwmErr != nil {
		hwm = guardHWM
	}
	t.Logf("scrape: %s in %s; exporter peak RSS (VmHWM) %s; alive %v", statusText(code, err), elapsed.Round(100*time.Millisecond), mib(hwm<<10), alive)
	if cg != "" {
		oom := cgroupOOMKills(t, cg)
		t.Logf("cgroup %s: memory.max %s, oom_kill %d", cg, mib(testCgroupMemoryMax), oom)
		if oom != 0 {
			t.Errorf("the exporter was OOM-killed %d times in a %s cgroup", oom, mib(testCgroupMemoryMax))
		}
	}
	if killed {
		t.Fatalf("the exporter's RSS passed %s: killed by the test", mib(memoryGuard))
	}
	if !alive {
		t.Fatalf("the exporter died: %v", cmd.ProcessState)
	}
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %s", statusText(code, err))
	}
	if hwm<<10 >= memoryBudget {
		t.Errorf("peak RSS (VmHWM) %s, want under %s", mib(hwm<<10), mib(memoryBudget))
	}

	s := series(body)
	for _, id := range lists {
		if got := s[`upstash_redis_backups{database_id="`+id+`",state="completed"}`]; got != strconv.Itoa(listSize) {
			t.Errorf("completed upstash_redis_backups of %s, a %d-backup database = %q, want %d", id, listSize, got, listSize)
		}
		if got := s[`upstash_backup_exporter_collect_success{database_id="`+id+`"}`]; got != "1" {
			t.Errorf("collect_success of %s, a %d-backup database = %q, want 1", id, listSize, got)
		}
	}
	failed := 0
	for _, id := range streamed {
		switch got := s[`upstash_backup_exporter_collect_success{database_id="`+id+`"}`]; got {
		case "0":
			failed++
		default:
			t.Errorf("collect_success of %s (a %d MiB answer) = %q, want 0", id, streamMiB, got)
		}
	}
	if streams > 0 {
		t.Logf("%d of %d streamed databases failed as over the limit", failed, streams)
	}
	if t.Failed() {
		t.Logf("fake API calls: %s", fakeRequests(t, api))
	}
}

// logSummary is the exporter's log without the lines about the streamed
// databases, which say the same 64 times; their count is given instead.
func logSummary(log string, streamed []string) string {
	var kept []string
	dropped := 0
	for line := range strings.SplitSeq(strings.TrimRight(log, "\n"), "\n") {
		if slices.ContainsFunc(streamed, func(id string) bool { return strings.Contains(line, id) }) {
			dropped++
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n") + fmt.Sprintf("\n(%d lines about the streamed databases left out)", dropped)
}

// startFakeAPI runs scripts/fakeapi on a loopback port and returns its URL.
func startFakeAPI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen=127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut := &syncBuffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fakeapi did not start: %v\n%s", err, errOut)
	}
	return strings.TrimSpace(line)
}

func fakeControlMain(t *testing.T, api, what string, q url.Values) {
	t.Helper()
	resp, err := http.Post(api+"/-/fake/"+what+"?"+q.Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /-/fake/%s?%s: %s", what, q.Encode(), resp.Status)
	}
}

func fakeRequests(t *testing.T, api string) string {
	_, body := httpDo(t, http.MethodGet, api+"/-/fake/requests", nil)
	return strings.TrimSpace(body)
}

func waitReady(ctx context.Context, u string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(u); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("not ready after 20s")
		}
	}
}

func scrapeMemory(ctx context.Context, u string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, memoryScrapeIn+10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.Itoa(int(memoryScrapeIn/time.Second)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String(), err
}

func statusText(code int, err error) string {
	if err != nil {
		return err.Error()
	}
	return strconv.Itoa(code)
}

// guardRSS kills p if its RSS passes memoryGuard. The returned function
// stops the guard and reports the highest VmHWM it read and whether it
// killed.
func guardRSS(p *os.Process, exited <-chan struct{}) func() (hwmKiB uint64, killed bool) {
	var (
		mu   sync.Mutex
		hwm  uint64
		kill bool
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-exited:
				return
			case <-tick.C:
			}
			v, err := procStatusKiB(p.Pid, "VmHWM")
			if err != nil {
				continue
			}
			mu.Lock()
			hwm = max(hwm, v)
			if v<<10 > memoryGuard && !kill {
				kill = true
				_ = p.Kill()
			}
			mu.Unlock()
		}
	}()
	return func() (uint64, bool) {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return hwm, kill
	}
}

// procStatusKiB reads a "Name:  N kB" line of /proc/<pid>/status.
func procStatusKiB(pid int, name string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// newMemoryCgroup moves pid into a new memory cgroup limited to 128 MiB
// without swap (v2 when the root hands the memory controller down, else a
// child of this process's v1 memory cgroup), removed when the test ends,
// and returns its path; "" when the machine does not allow it (not root, no
// memory controller to use). The move happens after the start, before any
// API call.
func newMemoryCgroup(t *testing.T, pid int) string {
	if os.Geteuid() != 0 {
		return ""
	}
	dir, limits := memoryCgroupV2(), map[string]string{
		"memory.max":      strconv.Itoa(testCgroupMemoryMax),
		"memory.swap.max": "0",
	}
	if dir == "" {
		dir, limits = memoryCgroupV1(), map[string]string{
			"memory.limit_in_bytes":       strconv.Itoa(testCgroupMemoryMax),
			"memory.memsw.limit_in_bytes": strconv.Itoa(testCgroupMemoryMax),
		}
	}
	if dir == "" {
		return ""
	}
	dir = filepath.Join(dir, fmt.Sprintf("upstash-exporter-memory-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Logf("cgroup: %v", err)
		return ""
	}
	t.Cleanup(func() {
		// Empty once the exporter has exited; retried briefly.
		for range 50 {
			if os.Remove(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("cgroup %s not removed", dir)
	})
	// The memory limit first: v1 refuses a memsw limit below it.
	for _, file := range []string{"memory.max", "memory.limit_in_bytes", "memory.swap.max", "memory.memsw.limit_in_bytes"} {
		value, ok := limits[file]
		if !ok {
			continue
		}
		err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644)
		if err != nil && (file == "memory.max" || file == "memory.limit_in_bytes") {
			t.Fatalf("cgroup: %v", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatalf("cgroup: moving the exporter: %v", err)
	}
	return dir
}

// memoryCgroupV2 is the cgroup v2 root when it hands the memory controller
// down to children; the test does not change that for the whole machine.
func memoryCgroupV2() string {
	const root = "/sys/fs/cgroup"
	controllers, err := os.ReadFile(root + "/cgroup.controllers")
	if err != nil || !strings.Contains(" "+string(controllers)+" ", " memory ") {
		return ""
	}
	if sub, err := os.ReadFile(root + "/cgroup.subtree_control"); err != nil || !strings.Contains(string(sub), "memory") {
		return ""
	}
	return root
}

// memoryCgroupV1 is this process's own cgroup in a v1 memory hierarchy
// mounted at /sys/fs/cgroup/memory, where a child can be made.
func memoryCgroupV1() string {
	const mount = "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(mount, "memory.limit_in_bytes")); err != nil {
		return ""
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "memory") {
			return filepath.Join(mount, parts[2])
		}
	}
	return ""
}

// cgroupOOMKills reads the OOM kills of a v2 (memory.events) or v1
// (memory.oom_control) memory cgroup.
func cgroupOOMKills(t *testing.T, dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "memory.events"))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(dir, "memory.oom_control"))
	}
	if err != nil {
		t.Errorf("cgroup: %v", err)
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
