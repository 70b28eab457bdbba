package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/upstashtest"
	"github.com/upstash-backup-exporter/upstash_backup_exporter/upstash"
)

// serveStream answers list-backup with s.size bytes or a little more, made
// while writing from one pre-encoded block of entries whose backup ids are
// renumbered for each copy, so every entry is distinct.
func (f *fake) serveStream(w http.ResponseWriter, r *http.Request, db string, s stream) {
	f.streamed.Add(1)
	f.mu.RLock()
	latency := f.latency
	f.mu.RUnlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if email, key, ok := r.BasicAuth(); !ok || email != f.email || key != f.apiKey {
		http.Error(w, `{"error":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	b := garbageBlock
	if !s.garbage {
		b = f.backupBlock(db)
	}
	buf := append([]byte{'['}, b.data...)
	for n, written := uint64(1), int64(0); written < s.size; n++ {
		if _, err := w.Write(buf); err != nil {
			return // the client hung up, as it should on an oversized answer
		}
		written += int64(len(buf))
		buf[0] = ','
		b.number(buf[1:], n)
	}
	_, _ = w.Write([]byte{']'})
}

// block is a run of bytes a stream writes again and again.
type block struct {
	data []byte
	// counters are the offsets in data of 12 hex digits that number each
	// copy, so that the backup ids of every copy differ.
	counters []int
}

// number writes copy number n into buf, a copy of b.data.
func (b *block) number(buf []byte, n uint64) {
	if len(b.counters) == 0 {
		return
	}
	var hex [12]byte
	for i := len(hex) - 1; i >= 0; i-- {
		hex[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	for _, off := range b.counters {
		copy(buf[off:], hex[:])
	}
}

// blockEntries is how many backups one block of a stream holds (about
// 100 KiB).
const blockEntries = 300

// backupBlock returns the block of blockEntries completed backups of db,
// comma separated, each with a backup id ending in the copy number; made
// once per database.
func (f *fake) backupBlock(db string) *block {
	if b, ok := f.blocks.Load(db); ok {
		return b.(*block)
	}
	b := &block{}
	created := time.Now().Truncate(time.Hour).Unix()
	for i := range blockEntries {
		if i > 0 {
			b.data = append(b.data, ',')
		}
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		e, _ := json.Marshal(upstashtest.Backup{ // strings and ints: cannot fail
			DatabaseID:   db,
			CustomerID:   f.email,
			Name:         "stream-backup-" + strconv.Itoa(i),
			BackupID:     id,
			CreationTime: created - int64(i),
			State:        upstash.StateCompleted,
			BackupSize:   64 << 20,
			DailyBackup:  "true",
			HourlyBackup: "false",
		})
		at := strings.Index(string(e), `"backup_id":"`+id) + len(`"backup_id":"`+id) - 12
		b.counters = append(b.counters, len(b.data)+at)
		b.data = append(b.data, e...)
	}
	f.blocks.Store(db, b)
	return b
}

// garbageBlock is 64 KiB of bytes that are not JSON, the same for every
// stream; it never changes, so it is shared.
var garbageBlock = func() *block {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	data[0] = '{' // a start a lenient decoder would follow into the rest
	return &block{data: data}
}()

// params reads query parameters, keeping the first error.
type params struct {
	url.Values
	err error
}

func (p *params) str(k, def string) string {
	if !p.Has(k) {
		return def
	}
	return p.Get(k)
}

func (p *params) required(k string) string {
	v := p.Get(k)
	if (v == "" || v == upstashtest.AllDatabases) && p.err == nil {
		p.err = fmt.Errorf("%s: a database id is required", k)
	}
	return v
}

func (p *params) num(k string, def int) int {
	if !p.Has(k) {
		return def
	}
	n, err := strconv.Atoi(p.Get(k))
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %w", k, err)
	}
	return n
}

func (p *params) dur(k string, def time.Duration) time.Duration {
	if !p.Has(k) {
		return def
	}
	d, err := time.ParseDuration(p.Get(k))
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %w", k, err)
	}
	return d
}

func (p *params) endpoint() string {
	e := p.str("endpoint", upstash.EndpointListBackup)
	switch e {
	case upstash.EndpointListDatabases, upstash.EndpointListBackup, upstashtest.EndpointGetDatabase:
	default:
		if p.err == nil {
			p.err = fmt.Errorf("endpoint=%q: want list_databases, list_backup or get_database", e)
		}
	}
	return e
}
