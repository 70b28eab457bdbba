package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler wraps next so that every message and attribute value it logs has
// the keys of current() redacted. current is called for each record, so a
// reload that brings new keys takes effect at once.
func Handler(next slog.Handler, current func() *Redactor) slog.Handler {
	return &handler{next: next, current: current}
}

type handler struct {
	next    slog.Handler
	current func() *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	r := h.current()
	if r.Empty() {
		return h.next.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(r, a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts with the keys known now: attributes bound to a logger
// are usually fixed labels (an account name), not API answers.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	r := h.current()
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(r, a)
	}
	return &handler{next: h.next.WithAttrs(clean), current: h.current}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), current: h.current}
}

func redactAttr(r *Redactor, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.String(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = redactAttr(r, g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.Any(a.Key, redactedError{msg: r.String(x.Error())})
		case fmt.Stringer:
			return slog.String(a.Key, r.String(x.String()))
		default:
			s := fmt.Sprint(x)
			if rs := r.String(s); rs != s {
				return slog.String(a.Key, rs)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactedError keeps an error an error, so tint still renders it as one.
type redactedError struct{ msg string }

func (e redactedError) Error() string { return e.msg }
