package upstashtest

import (
	"time"

	"github.com/upstash-backup-exporter/upstash_backup_exporter/internal/demo"
)

// Credentials of the demo account, those of the exporter's --demo. The
// demo's data is simulated: no Upstash account, database or backup stands
// behind it.
const (
	DemoEmail  = demo.Email
	DemoAPIKey = demo.APIKey
)

// Ids of the demo databases, one per situation the exporter must show; see
// package internal/demo for their schedules.
const (
	DemoHealthyDailyID  = demo.HealthyDailyID  // "orders": daily, healthy
	DemoFailingID       = demo.FailingID       // "sessions": daily, failing
	DemoStuckPendingID  = demo.StuckPendingID  // "analytics": daily, stuck pending
	DemoNeverBackedUpID = demo.NeverBackedUpID // "scratch-cache": daily backup off
	DemoHourlyID        = demo.HourlyID        // "payments": hourly
	DemoGapID           = demo.GapID           // "inventory": a day missing in the chain
	DemoShrunkID        = demo.ShrunkID        // "search-index": the newest backup shrank
)

// WithDemoCast gives the server the cast of the exporter's --demo (package
// internal/demo), the demo credentials and a request log limited to the
// newest 256 calls. Options after it can change the credentials and the
// limit. Faults, latency and the request log then apply to the demo as to
// any cast.
func WithDemoCast() Option {
	return func(o *options) {
		o.demo = true
		o.email, o.apiKey = DemoEmail, DemoAPIKey
		o.logLimit = 256
	}
}

// NewDemo returns a started Server with the demo cast (see WithDemoCast),
// reading time from clock (time.Now when nil). Backups are computed from
// the clock at each request, so they appear and complete as a real schedule
// would make them, and the same clock readings always give the same answers.
func NewDemo(clock func() time.Time) *Server {
	return NewServer(WithClock(clock), WithDemoCast())
}

// addDemoCast adds the demo databases, their backups a function of the
// server's clock from the time the server was made.
func (s *Server) addDemoCast() {
	cast := demo.NewCast(s.opts.clock())
	for _, db := range demo.Databases() {
		s.AddDatabase(db)
		s.SetBackupsFunc(db.ID, func(now time.Time) []Backup {
			backups, _ := cast.Backups(db.ID, now)
			return backups
		})
	}
}
