package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the measurements read: scrapes, the fake's control API, and the
// CPU and memory of a process from /proc.

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
