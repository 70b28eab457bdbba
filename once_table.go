package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// writeTable prints the report for people: the accounts that are not fine,
// then a line per database.
func writeTable(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "configuration: %s\n", r.Source)
	for _, a := range r.Accounts {
		if a.Verdict != verdictOK {
			fmt.Fprintf(w, "account %s: %s\n", a.Name, a.Verdict)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tDATABASE\tID\tLATEST\tLAST COMPLETED\tSIZE\tRESTORE WINDOW\tVERDICT")
	for _, d := range r.Databases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			orDash(d.Account), orDash(d.Name), d.ID, orDash(d.LatestState),
			ago(r.Time, d.LastCompleted), size(d.SizeBytes), window(r.Time, d.OldestCompleted, d.LastCompleted), d.Verdict)
	}
	_ = tw.Flush() // a write error has nowhere to go
	verdict := "healthy"
	if !r.Healthy {
		verdict = "NOT healthy"
	}
	fmt.Fprintf(w, "%d database(s), %s\n", len(r.Databases), verdict)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(now time.Time, ts *int64) string {
	if ts == nil {
		return "-"
	}
	return shortDuration(now.Sub(time.Unix(*ts, 0))) + " ago"
}

// window is the span of the completed backups: the points in time a
// restore can reach.
func window(now time.Time, oldest, newest *int64) string {
	if oldest == nil || newest == nil {
		return "-"
	}
	return shortDuration(now.Sub(time.Unix(*oldest, 0))) + " to " + shortDuration(now.Sub(time.Unix(*newest, 0))) + " ago"
}

func shortDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return strings.TrimSuffix(d.String(), "0s")
}

func size(b *int64) string {
	if b == nil {
		return "-"
	}
	const unit = 1024
	v, i := float64(*b), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", *b)
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i-1])
}
