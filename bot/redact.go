package bot

import (
	"context"
	"log/slog"
	"regexp"
)

// The SDK puts the request URI into its errors: `…/cgi-bin/token?…&secret=<AppSecret>`
// for the token fetch, `…?access_token=<token>` for every other call. These
// patterns find such values in any text: query parameters (also URL-encoded)
// and JSON members.
var (
	redactQuery   = regexp.MustCompile(`(?i)((?:app_?)?secret|access_token)(=)[^&\s"'<>,;)]*`)
	redactEscaped = regexp.MustCompile(`(?i)((?:app_?)?secret|access_token)(%3D)[^%&\s"'<>,;)]*`)
	redactJSON    = regexp.MustCompile(`(?i)("(?:app_?)?secret|"[a-z_]*access_token)("\s*:\s*)"(?:[^"\\]|\\.)*"`)
	redactedValue = "REDACTED"
)

// Redact removes AppSecrets and access tokens from s: the values of
// `secret=`, `appsecret=`, `access_token=` (any `…access_token=`) and of the
// JSON members "secret", "appsecret", "access_token". Every SDK error goes
// through it before it is logged or stored.
func Redact(s string) string {
	s = redactQuery.ReplaceAllString(s, "${1}${2}"+redactedValue)
	s = redactEscaped.ReplaceAllString(s, "${1}${2}"+redactedValue)
	return redactJSON.ReplaceAllString(s, `${1}${2}"`+redactedValue+`"`)
}

// redactedError carries an error's text with secrets removed; errors.As and
// errors.Is still see the original chain.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactError returns err with Redact applied to its text (nil for nil).
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*redactedError); ok {
		return err
	}
	return &redactedError{msg: Redact(err.Error()), err: err}
}

// RedactingHandler wraps a slog.Handler so that every message and every
// string or error attribute is redacted: a last line of defence for logs that
// might carry an SDK error.
func RedactingHandler(h slog.Handler) slog.Handler { return redactingHandler{h} }

type redactingHandler struct{ next slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	rs := make([]slog.Attr, len(as))
	for i, a := range as {
		rs[i] = redactAttr(a)
	}
	return redactingHandler{h.next.WithAttrs(rs)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		rs := make([]any, len(g))
		for i, x := range g {
			rs[i] = redactAttr(x)
		}
		return slog.Group(a.Key, rs...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, Redact(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
