package hotlinebot

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error for the edges: the API maps it to an HTTP status,
// the bot to a Chinese reply, the CLI to an exit status.
type ErrorCode string

// The small set of codes every layer agrees on (DESIGN.md, rule 5).
const (
	EINVALID     ErrorCode = "invalid"
	ENOTFOUND    ErrorCode = "not_found"
	ECONFLICT    ErrorCode = "conflict"
	EFORBIDDEN   ErrorCode = "forbidden"
	EUNAVAILABLE ErrorCode = "unavailable"
	EINTERNAL    ErrorCode = "internal"
)

// Error is an error a person may be shown. Message is written for the person who
// caused it (in Chinese when it is a clerk's or handler's mistake), without
// internal detail.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors, whose text must not reach users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "内部错误，请稍后再试"
}
