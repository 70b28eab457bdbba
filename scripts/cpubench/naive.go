package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
)

// The naive sequential loop the exporter is compared with, run as a
// process of its own.

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
