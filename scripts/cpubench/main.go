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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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
	cmd := exec.CommandContext(ctx, o.fakeapi, "--listen=127.0.0.1:0", "--databases="+strconv.Itoa(n), "--backups="+strconv.Itoa(o.backups), "--direct")
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
