package main

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"github.com/prometheus/common/promslog"
)

// newLogger builds the slog logger of --log.level and --log.format: tint
// for text, coloured only on a terminal, and promslog's, as the other
// Prometheus components write them, for logfmt and json.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	if format == "logfmt" || format == "json" {
		cfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
		// Both values were checked by the flags' enums.
		_ = cfg.Level.Set(level)
		_ = cfg.Format.Set(format)
		return promslog.New(cfg)
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	return slog.New(tint.NewTextHandler(w, &tint.Options{
		Level:      lvl,
		TimeFormat: time.RFC3339,
		NoColor:    !isTerminal(w),
	}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
