package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind uint8

const (
	// Internal is a failure the caller cannot fix (a bug or a broken dependency).
	Internal Kind = iota
	// Invalid means the request itself is wrong: a bad field, value or path.
	Invalid
	// NotFound means the named resource does not exist.
	NotFound
	// Conflict means the resource already exists or is in the wrong state.
	Conflict
	// Unavailable means a dependency is down or overloaded; retrying may help.
	Unavailable
	// Unauthenticated means the caller did not prove who it is.
	Unauthenticated
	// PermissionDenied means the caller is known but may not do this.
	PermissionDenied
	// TooLarge means a request or batch exceeds a documented limit.
	TooLarge
	// Unsupported means the request's format (its media type) is not one the
	// endpoint takes.
	Unsupported
)

var kindNames = [...]string{
	Internal:         "internal",
	Invalid:          "invalid",
	NotFound:         "not found",
	Conflict:         "conflict",
	Unavailable:      "unavailable",
	Unauthenticated:  "unauthenticated",
	PermissionDenied: "permission denied",
	TooLarge:         "too large",
	Unsupported:      "unsupported",
}

// String returns the kind's lowercase name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a failure with a kind, the operation that failed and a cause.
// Message is safe to show to a client; Err may hold details that are not.
type Error struct {
	Kind    Kind
	Op      string // e.g. "create run"
	Message string // client-facing text naming the field and what was expected
	Err     error  // underlying cause, may be nil
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Op != "" {
		return e.Op + ": " + msg
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error of kind k with a formatted client-facing message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is shorthand for E(Invalid, ...).
func Invalidf(format string, args ...any) error { return E(Invalid, format, args...) }

// NotFoundf is shorthand for E(NotFound, ...).
func NotFoundf(format string, args ...any) error { return E(NotFound, format, args...) }

// Conflictf is shorthand for E(Conflict, ...).
func Conflictf(format string, args ...any) error { return E(Conflict, format, args...) }

// Wrap attaches an operation name to err, keeping its kind. It returns nil for nil.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// MessageOf returns the client-facing message of err: the Message of its first
// *Error (with the operations wrapped around it stripped), or "" when err has
// no *Error, which means its details must not reach a client.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Message != "" {
			return e.Message
		}
		if e.Err != nil {
			return e.Err.Error()
		}
	}
	return ""
}

// Missing reports a required request parameter that was not given, in the
// words MLflow clients and tests expect.
func Missing(param string) error {
	return Invalidf("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", param)
}
