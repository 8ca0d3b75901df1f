package messages

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Code is the machine-readable kind of an Error; the HTTP layer maps each
// code to exactly one status.
type Code string

// The error codes of docs/api.md, "Conventions". The list is append-only.
const (
	CodeValidation        Code = "VALIDATION_ERROR"
	CodeUnauthorized      Code = "UNAUTHORIZED"
	CodeForbidden         Code = "FORBIDDEN"
	CodeLicenseLimit      Code = "LICENSE_LIMIT"
	CodeLicenseExpired    Code = "LICENSE_EXPIRED"
	CodeNotFound          Code = "NOT_FOUND"
	CodeConflict          Code = "CONFLICT"
	CodeInvalidTransition Code = "INVALID_TRANSITION"
	CodeNoPublished       Code = "NO_PUBLISHED_VERSION"
	CodePayloadTooLarge   Code = "PAYLOAD_TOO_LARGE"
	CodeHeadersTooLarge   Code = "REQUEST_HEADERS_TOO_LARGE"
	CodeMethodNotAllowed  Code = "METHOD_NOT_ALLOWED"
	CodeRateLimited       Code = "RATE_LIMITED"
	CodeNotReady          Code = "SYSTEM_NOT_READY"
	CodeUnavailable       Code = "SERVICE_UNAVAILABLE"
	CodeInternal          Code = "INTERNAL"
	// CodeUnsupportedMediaType refuses a cookie-authenticated change whose
	// body is not declared as application/json (docs/security.md).
	CodeUnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
)

// Error is the application error: a code and a message that is safe to show
// to the caller. Low-level errors are wrapped with context and, when they
// reach a caller, become CodeInternal with a generic message.
type Error struct {
	Code    Code
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none (nil gives "").
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the caller-safe message of err: the message of its
// *Error, or a generic text for anything else, so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Invalid is shorthand for a VALIDATION_ERROR.
func Invalid(format string, args ...any) *Error {
	return Errorf(CodeValidation, format, args...)
}

// NotFound is shorthand for a NOT_FOUND error naming the missing kind.
func NotFound(kind string) *Error { return Errorf(CodeNotFound, "%s not found", kind) }

// CleanName trims a display name (of a workflow, runner or user) and
// checks it: not empty, at most max characters, no control characters (a
// NUL or an escape sequence in a name ends up in every list and log line
// that shows it) and no Unicode format characters (category Cf: bidi
// overrides and isolates, zero-width joiners and spaces, which make one
// name look like another).
func CleanName(name string, max int) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", Invalid("name must not be empty")
	case utf8.RuneCountInString(n) > max:
		return "", Invalid("name must be at most %d characters", max)
	case strings.ContainsFunc(n, unicode.IsControl):
		return "", Invalid("name must not contain control characters")
	case strings.ContainsFunc(n, isFormatChar):
		return "", Invalid("name must not contain invisible formatting characters (bidirectional overrides, zero-width characters)")
	}
	return n, nil
}

// isFormatChar reports a Unicode format character (category Cf).
func isFormatChar(r rune) bool { return unicode.Is(unicode.Cf, r) }

// CheckDescription checks a free-text description shown to people: valid
// UTF-8 and no control characters other than newline, carriage return and
// tab (a NUL or an escape sequence would reach every page and terminal
// that shows it). It names the field as field in its error.
func CheckDescription(field, text string) error {
	if !utf8.ValidString(text) {
		return Invalid("%s is not valid UTF-8", field)
	}
	if strings.ContainsFunc(text, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r'
	}) {
		return Invalid("%s must not contain control characters other than newline and tab", field)
	}
	return nil
}
