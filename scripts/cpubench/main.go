// Command cpubench measures what one scrape costs the exporter binary
// against the fake API of scripts/fakeapi, both processes of their own:
// wall time against the floor ceil(N/C) x L, the process CPU (user + sys,
// from /proc/<pid>/stat) of the exporter and of the fake per database, the
// exporter's peak RSS (VmHWM) and the API calls per scrape. It then does
// the same for a naive sequential loop (net/http and encoding/json, one
// list-backup at a time) against the same fake. scripts/cpubench.sh builds
// the binaries and runs it; it is not part of the exporter.
//
// L is the latency of every list-backup call (a timer in the fake, no busy
// wait); list-databases answers at once, so that the floor is the one the
// README's "Scaling" section uses. Each point starts a fake and an exporter
// (--upstash.cache-ttl=0s, --upstash.concurrency=C), scrapes once to warm
// up (connections, buffers), then measures -scrapes scrapes one after the
// other. It exits 1 on a functional problem (a scrape that fails, a
// database not read, API calls other than N+1 per scrape), never on a
// figure.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

func main() {
	var o options
	flag.StringVar(&o.exporter, "exporter", "", "exporter binary")
	flag.StringVar(&o.fakeapi, "fakeapi", "", "scripts/fakeapi binary")
	flag.StringVar(&o.ns, "n", "100,1000,5000", "database counts N")
	flag.StringVar(&o.cs, "c", "8,64,256", "concurrencies C (--upstash.concurrency)")
	flag.StringVar(&o.naiveNs, "naive-n", "100,1000,5000", "database counts of the naive loop; empty for none")
	flag.IntVar(&o.backups, "backups", 20, "backups per database")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "latency L of every list-backup call")
	flag.IntVar(&o.scrapes, "scrapes", 3, "measured scrapes per point, at least; more at small N (see -reads)")
	flag.IntVar(&o.reads, "reads", 1000, "measure at least this many database reads per point")
	flag.Int64Var(&o.clkTck, "clk-tck", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	flag.StringVar(&o.pprof, "pprof", "", "N:C:FILE: write a CPU profile of the exporter's measured scrapes at N, C to FILE")
	naive := flag.String("naive-run", "", "internal: run the naive loop against this base URL")
	flag.Parse()
	// Interrupted, the processes it started are killed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *naive != "" {
		if err := runNaive(ctx, *naive, o.scrapes); err != nil {
			fmt.Fprintln(os.Stderr, "cpubench naive:", err)
			os.Exit(1)
		}
		return
	}
	if err := o.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cpubench:", err)
		os.Exit(1)
	}
}

type options struct {
	exporter, fakeapi string
	ns, cs, naiveNs   string
	backups           int
	latency           time.Duration
	scrapes, reads    int
	clkTck            int64
	pprof             string
}

// point is what one row of the table measured.
type point struct {
	n, c          int
	scrapes       int
	wall          time.Duration // mean of the measured scrapes
	exporterCPU   time.Duration // over the measured scrapes
	fakeCPU       time.Duration
	peakRSS       uint64 // bytes
	callsPerScrpe float64
}

func (o *options) run(ctx context.Context) error {
	ns, err := ints(o.ns)
	if err != nil {
		return err
	}
	cs, err := ints(o.cs)
	if err != nil {
		return err
	}
	naiveNs, err := ints(o.naiveNs)
	if err != nil {
		return err
	}
	fmt.Printf("exporter and fake API as processes of their own over loopback; %d backups per database;\n", o.backups)
	fmt.Printf("list-backup latency L = %s (a timer); CPU is user+sys from /proc/<pid>/stat; after one warm-up scrape\n\n", o.latency)
	header()
	failed := false
	for _, n := range ns {
		for _, c := range cs {
			p, err := o.measure(ctx, n, c)
			if err != nil {
				fmt.Printf("%6d %4d  FAILED: %v\n", n, c, err)
				failed = true
				continue
			}
			o.row("exporter", p)
		}
	}
	for _, n := range naiveNs {
		p, err := o.measureNaive(ctx, n)
		if err != nil {
			fmt.Printf("%6d %4d  naive loop FAILED: %v\n", n, 1, err)
			failed = true
			continue
		}
		o.row("naive loop", p)
	}
	if failed {
		return errors.New("a point failed")
	}
	return nil
}

func header() {
	fmt.Printf("%-10s %6s %4s %7s %10s %10s %6s %14s %14s %9s %13s\n",
		"client", "N", "C", "scrapes", "wall_ms", "floor_ms", "ratio", "cpu_us/db", "fake_cpu_us/db", "peak_MiB", "calls/scrape")
}

func (o *options) row(client string, p point) {
	floor := time.Duration(math.Ceil(float64(p.n)/float64(p.c))) * o.latency
	reads := float64(p.n * p.scrapes)
	fmt.Printf("%-10s %6d %4d %7d %10.1f %10.1f %6.3f %14.1f %14.1f %9.1f %13.1f\n",
		client, p.n, p.c, p.scrapes, ms(p.wall), ms(floor), p.wall.Seconds()/floor.Seconds(),
		float64(p.exporterCPU.Microseconds())/reads, float64(p.fakeCPU.Microseconds())/reads,
		float64(p.peakRSS)/(1<<20), p.callsPerScrpe)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startFake runs the fake API with n databases and returns its base URL.
func (o *options) startFake(ctx context.Context, n int) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, o.fakeapi, "--listen=127.0.0.1:0", "--databases="+strconv.Itoa(n), "--backups="+strconv.Itoa(o.backups))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop(cmd)
		return nil, "", fmt.Errorf("fakeapi did not start: %w", err)
	}
	api := strings.TrimSpace(line)
	if err := control(ctx, api, "fault?endpoint=list_backup&latency="+o.latency.String()); err != nil {
		stop(cmd)
		return nil, "", err
	}
	return cmd, api, nil
}

func (o *options) measure(ctx context.Context, n, c int) (point, error) {
	fake, api, err := o.startFake(ctx, n)
	if err != nil {
		return point{}, err
	}
	defer stop(fake)
	dir, err := os.MkdirTemp("", "cpubench")
	if err != nil {
		return point{}, err
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "config.yml")
	yml := fmt.Sprintf("accounts:\n  - name: bench\n    email: %q\n    api_key: %q\n    api_url: %q\n",
		upstashtest.DefaultEmail, upstashtest.DefaultAPIKey, api)
	if err := os.WriteFile(config, []byte(yml), 0o600); err != nil {
		return point{}, err
	}
	addr, err := freeAddress(ctx)
	if err != nil {
		return point{}, err
	}
	cmd := exec.CommandContext(ctx, o.exporter, "--config.file="+config, "--web.listen-address="+addr,
		"--upstash.concurrency="+strconv.Itoa(c), "--upstash.cache-ttl=0s", "--upstash.timeout=60s",
		"--log.level=warn", "--web.enable-pprof")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return point{}, err
	}
	defer stop(cmd)
	base := "http://" + addr
	if err := waitReady(ctx, base+"/-/ready"); err != nil {
		return point{}, err
	}
	if err := scrape(ctx, base, n); err != nil {
		return point{}, fmt.Errorf("warm-up scrape: %w", err)
	}
	scrapes := max(o.scrapes, (o.reads+n-1)/n)
	profile := o.startProfile(ctx, base, n, c, scrapes)
	if err := control(ctx, api, "requests"); err != nil {
		return point{}, err
	}
	cpu0, err := o.procCPU(cmd.Process.Pid)
	if err != nil {
		return point{}, err
	}
	fake0, err := o.procCPU(fake.Process.Pid)
	if err != nil {
		return point{}, err
	}
	start := time.Now()
	for range scrapes {
		if err := scrape(ctx, base, n); err != nil {
			return point{}, err
		}
	}
	wall := time.Since(start)
	cpu1, err := o.procCPU(cmd.Process.Pid)
	if err != nil {
		return point{}, err
	}
	fake1, err := o.procCPU(fake.Process.Pid)
	if err != nil {
		return point{}, err
	}
	if err := profile(); err != nil {
		return point{}, err
	}
	hwm, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return point{}, err
	}
	calls, err := apiCalls(ctx, api)
	if err != nil {
		return point{}, err
	}
	if calls != int64(scrapes*(n+1)) {
		return point{}, fmt.Errorf("%d API calls in %d scrapes, want %d (one list-databases and %d list-backup per scrape)",
			calls, scrapes, scrapes*(n+1), n)
	}
	return point{
		n: n, c: c, scrapes: scrapes,
		wall:          wall / time.Duration(scrapes),
		exporterCPU:   cpu1 - cpu0,
		fakeCPU:       fake1 - fake0,
		peakRSS:       hwm,
		callsPerScrpe: float64(calls) / float64(scrapes),
	}, nil
}

// startProfile starts a CPU profile of the exporter when -pprof names this
// point, long enough to cover the measured scrapes; the function returned
// waits for it and writes it.
func (o *options) startProfile(ctx context.Context, base string, n, c, scrapes int) func() error {
	var pn, pc int
	var file string
	if _, err := fmt.Sscanf(strings.Replace(o.pprof, ":", " ", 2), "%d %d %s", &pn, &pc, &file); err != nil || pn != n || pc != c {
		return func() error { return nil }
	}
	// The profile runs whole seconds; the scrapes take about this long.
	est := time.Duration(scrapes) * time.Duration(math.Ceil(float64(n)/float64(c))) * o.latency
	secs := max(1, int(est.Seconds()))
	done := make(chan error, 1)
	go func() {
		resp, err := get(ctx, base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.WriteFile(file, b, 0o600)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// measureNaive runs the naive loop as a process of its own, which reports
// its CPU and peak RSS (its rusage would count this process's RSS, which
// it shared until exec).
func (o *options) measureNaive(ctx context.Context, n int) (point, error) {
	fake, api, err := o.startFake(ctx, n)
	if err != nil {
		return point{}, err
	}
	defer stop(fake)
	self, err := os.Executable()
	if err != nil {
		return point{}, err
	}
	// The naive loop is slow (N x L a pass): fewer passes than the
	// exporter's scrapes.
	scrapes := max(1, min(o.scrapes, o.reads/n))
	// A short pass to warm up, as the exporter's first scrape.
	cmd := exec.CommandContext(ctx, self, "-naive-run="+api, "-scrapes="+strconv.Itoa(scrapes+1))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return point{}, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return point{}, err
	}
	if err := cmd.Start(); err != nil {
		return point{}, err
	}
	// The child says when its warm-up pass ended, then its mean wall.
	r := bufio.NewReader(out)
	if _, err := r.ReadString('\n'); err != nil {
		_ = cmd.Wait()
		return point{}, fmt.Errorf("warm-up pass: %w", err)
	}
	fake0, err := o.procCPU(fake.Process.Pid)
	if err != nil {
		return point{}, err
	}
	if err := control(ctx, api, "requests"); err != nil {
		return point{}, err
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		return point{}, err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		_ = cmd.Wait()
		return point{}, fmt.Errorf("naive loop: %w", err)
	}
	fake1, err := o.procCPU(fake.Process.Pid)
	if err != nil {
		return point{}, err
	}
	if err := cmd.Wait(); err != nil {
		return point{}, err
	}
	var wall, cpu time.Duration
	var hwm uint64
	if _, err := fmt.Sscanf(line, "%d %d %d", &wall, &cpu, &hwm); err != nil {
		return point{}, fmt.Errorf("naive loop said %q: %w", line, err)
	}
	calls, err := apiCalls(ctx, api)
	if err != nil {
		return point{}, err
	}
	if calls != int64(scrapes*(n+1)) {
		return point{}, fmt.Errorf("%d API calls in %d passes, want %d", calls, scrapes, scrapes*(n+1))
	}
	return point{
		n: n, c: 1, scrapes: scrapes,
		wall:          wall,
		exporterCPU:   cpu,
		fakeCPU:       fake1 - fake0,
		peakRSS:       hwm,
		callsPerScrpe: float64(calls) / float64(scrapes),
	}, nil
}

// runNaive is the naive client: list the databases, then read each one's
// backups with net/http and encoding/json, one call at a time, keeping the
// newest completed backup. Its first pass, to warm up, reads naiveWarmUp
// databases only. It prints a line after that pass, then, for the other
// passes, their mean wall time and its own CPU over them, in nanoseconds,
// and its peak RSS.
func runNaive(ctx context.Context, api string, passes int) error {
	var cpu0 time.Duration
	var start time.Time
	for i := range passes {
		if i == 1 {
			// The parent reads the fake's CPU and resets its counts
			// before it answers.
			fmt.Println("warm")
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				return err
			}
			cpu0, start = selfCPU(), time.Now()
		}
		var dbs []struct {
			DatabaseID string `json:"database_id"`
		}
		if err := getJSON(ctx, api+"/redis/databases", &dbs); err != nil {
			return err
		}
		if i == 0 {
			// Warming up takes a few calls, not N x L.
			dbs = dbs[:min(len(dbs), naiveWarmUp)]
		}
		newest := map[string]int64{}
		for _, db := range dbs {
			var backups []struct {
				CreationTime int64  `json:"creation_time"`
				State        string `json:"state"`
				BackupSize   int64  `json:"backup_size"`
			}
			if err := getJSON(ctx, api+"/redis/list-backup/"+db.DatabaseID, &backups); err != nil {
				return err
			}
			for _, b := range backups {
				if b.State == "completed" && b.CreationTime > newest[db.DatabaseID] {
					newest[db.DatabaseID] = b.CreationTime
				}
			}
		}
		if len(newest) != len(dbs) {
			return fmt.Errorf("%d of %d databases had a completed backup", len(newest), len(dbs))
		}
	}
	n := max(passes-1, 1)
	wall, cpu := int64(time.Since(start))/int64(n), int64(selfCPU()-cpu0)
	hwm, err := vmHWM(os.Getpid())
	if err != nil {
		return err
	}
	fmt.Println(wall, cpu, hwm)
	return nil
}

// naiveWarmUp is how many databases the naive loop's first pass reads.
const naiveWarmUp = 20

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(upstashtest.DefaultEmail, upstashtest.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scrape gets /metrics with a scrape timeout longer than any point takes
// and checks that every database was read.
func scrape(ctx context.Context, base string, n int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "600")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/metrics: %s", resp.Status)
	}
	if ok := bytes.Count(body, []byte("\nupstash_backup_exporter_collect_success{")); ok != n {
		return fmt.Errorf("/metrics has collect_success for %d databases, want %d", ok, n)
	}
	if bad := countFailed(body); bad > 0 {
		return fmt.Errorf("/metrics: %d databases with collect_success 0", bad)
	}
	return nil
}

func countFailed(body []byte) int {
	bad := 0
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("upstash_backup_exporter_collect_success{")) && bytes.HasSuffix(line, []byte(" 0")) {
			bad++
		}
	}
	return bad
}

func get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

func control(ctx context.Context, api, what string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/-/fake/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fake control %s: %s %s", what, resp.Status, b)
	}
	return nil
}

// apiCalls is every API call the fake answered since its counts were
// reset.
func apiCalls(ctx context.Context, api string) (int64, error) {
	resp, err := get(ctx, api+"/-/fake/requests")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var counts map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		return 0, err
	}
	var sum int64
	for _, v := range counts {
		sum += v
	}
	return sum, nil
}

// procCPU is utime + stime of pid.
func (o *options) procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis. utime and stime are fields
	// 14 and 15, the 12th and 13th after it.
	rest := b[bytes.LastIndexByte(b, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration((utime + stime) * int64(time.Second) / o.clkTck), nil
}

func vmHWM(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitReady(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if resp, err := get(ctx, u); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", u, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddress(ctx context.Context) (string, error) {
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("want positive integers, got %q", s)
		}
		out = append(out, v)
	}
	return out, nil
}
