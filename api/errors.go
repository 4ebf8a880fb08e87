package api

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/hotlinebot/hotlinebot"
)

// The error codes of the API's JSON errors (CONTRACT.md, "HTTP"): the
// domain's codes plus the two only HTTP has.
const (
	codeInvalid      = string(hotlinebot.EINVALID)
	codeUnauthorized = "unauthorized"
	codeForbidden    = string(hotlinebot.EFORBIDDEN)
	codeNotFound     = string(hotlinebot.ENOTFOUND)
	codeConflict     = string(hotlinebot.ECONFLICT)
	codeTooLarge     = "too_large"
	codeUnavailable  = string(hotlinebot.EUNAVAILABLE)
	codeInternal     = string(hotlinebot.EINTERNAL)
)

var statusOfCode = map[string]int{
	codeInvalid:      http.StatusBadRequest,
	codeUnauthorized: http.StatusUnauthorized,
	codeForbidden:    http.StatusForbidden,
	codeNotFound:     http.StatusNotFound,
	codeConflict:     http.StatusConflict,
	codeTooLarge:     http.StatusRequestEntityTooLarge,
	codeUnavailable:  http.StatusServiceUnavailable,
	codeInternal:     http.StatusInternalServerError,
}

// errorBody is the API's error document.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var (
	errTooLarge      = hotlinebot.Errorf("too_large", "请求体超过 1 MiB")
	errUnauthorized  = hotlinebot.Errorf("unauthorized", "缺少或错误的访问令牌（Authorization: Bearer <admin.token>）")
	errNotFoundRoute = hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有这个接口")
	errInternalPanic = errors.New("api: handler panicked")
)

// invalidf is a 400 whose message names what was wrong.
func invalidf(format string, args ...any) error {
	return hotlinebot.Errorf(hotlinebot.EINVALID, format, args...)
}

// writeJSON writes v as the response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Our own view types always encode; this is a programming error.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"内部错误，请稍后再试"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError writes the API's error document.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// fail answers err: its code picks the status; internal errors are logged
// and shown only as a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = errTooLarge
	}
	code := string(hotlinebot.ErrorCodeOf(err))
	if code == codeInternal && databaseUnavailable(err) {
		s.log.Warn("http: database unavailable", "method", r.Method, "route", r.Pattern, "error", redact(err.Error()))
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "数据库暂时无法连接，请稍后再试")
		return
	}
	status, ok := statusOfCode[code]
	if !ok {
		code, status = codeInternal, http.StatusInternalServerError
	}
	msg := hotlinebot.ErrorMessage(err)
	if code == codeInternal {
		if r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			s.log.Info("http: request canceled", "method", r.Method, "route", r.Pattern, "error", redact(err.Error()))
		} else {
			s.log.Error("http: internal error", "method", r.Method, "route", r.Pattern, "error", redact(err.Error()))
		}
		msg = hotlinebot.ErrorMessage(errInternalPanic) // the generic text
	}
	writeError(w, status, code, msg)
}

// databaseUnavailable reports whether err says the database cannot be
// reached (as opposed to a bug): a network error, a closed or broken
// connection, PostgreSQL shutting down or out of connections. Such an error
// is a 503 the client may retry.
func databaseUnavailable(err error) bool {
	var (
		ne  net.Error
		sqe interface{ SQLState() string }
	)
	switch {
	case errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return true
	case errors.As(err, &sqe):
		st := sqe.SQLState()
		// 08: connection exception; 53300: too many connections; 57P01-57P03:
		// the server is shutting down or starting up.
		return strings.HasPrefix(st, "08") || st == "53300" || st == "57P01" || st == "57P02" || st == "57P03"
	}
	// database/sql has no exported error for a closed pool.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// phoneLike matches runs of digits long enough to be a phone number.
var phoneLike = regexp.MustCompile(`\d{7,}`)

// redact masks phone-like digit runs in a log message, in case a lower layer
// put a value into its error text.
func redact(s string) string {
	return phoneLike.ReplaceAllStringFunc(s, hotlinebot.MaskPhone)
}

// decodeJSON reads the request body as one JSON object into dst. Unknown
// fields, bad types, trailing data and bodies over MaxBodyBytes are refused
// with a message naming what was wrong.
func decodeJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return invalidf("请求体只能包含一个 JSON 对象")
	}
	return nil
}

func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return invalidf("请求体为空：应为一个 JSON 对象")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("请求体不是完整的 JSON")
	case errors.As(err, &se):
		return invalidf("请求体不是合法的 JSON（第 %d 字节附近）", se.Offset)
	case errors.As(err, &ute):
		if ute.Field == "" {
			return invalidf("请求体应为一个 JSON 对象")
		}
		return invalidf("字段 %s 的类型不对：应为 %s", ute.Field, jsonKind(ute.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this error; its text is stable.
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return invalidf("未知字段 %s", name)
	}
	return invalidf("请求体无法解析：%v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "字符串"
	case "bool":
		return "true 或 false"
	case "int", "int64", "int32", "float64":
		return "数字"
	case "slice":
		return "数组"
	case "struct", "map":
		return "对象"
	}
	return k
}

// readBody reads the whole request body (bounded by MaxBodyBytes).
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, fmt.Errorf("api: read body: %w", err)
	}
	return b, nil
}
