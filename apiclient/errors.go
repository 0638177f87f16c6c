package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"casefile/protocol"
)

// Class sorts a failed exchange by what the syncer does about it.
type Class int

// The failure classes.
const (
	// ClassUnreachable: no connection could be made (refused, no route, DNS,
	// dial timeout). Transient: retry later; the link is offline.
	ClassUnreachable Class = iota + 1
	// ClassFailing: the server was reached but the exchange failed (5xx,
	// 429, a reset connection, a timeout, an answer that makes no sense).
	// Transient: retry later; the link is degraded.
	ClassFailing
	// ClassPermanent: the server refused the request for good (400, 403,
	// 404, 413). Retrying the same request cannot help.
	ClassPermanent
	// ClassUnauthorized: the token is missing, expired or revoked (401).
	// Stop and ask the person to log in again; drop nothing.
	ClassUnauthorized
	// ClassCursorTooOld: the server compacted past the pull cursor (410).
	// Resync from the beginning, keeping local work.
	ClassCursorTooOld
)

func (c Class) String() string {
	switch c {
	case ClassUnreachable:
		return "unreachable"
	case ClassFailing:
		return "failing"
	case ClassPermanent:
		return "permanent"
	case ClassUnauthorized:
		return "unauthorized"
	case ClassCursorTooOld:
		return "cursor-too-old"
	}
	return "unknown"
}

// SessionExpired is the sentence people read when the server refuses the token.
const SessionExpired = "Your session has expired. Run 'casefile login' to sign in again; your changes are kept on this computer."

// ErrSessionExpired matches every refused token (errors.Is); its text is
// SessionExpired.
var ErrSessionExpired error = sentenceError(SessionExpired)

// WrongUser is the sentence people read when the server says the saved
// token belongs to another user than the credentials name (a token
// copied from another user's data directory).
const WrongUser = "The saved login on this computer belongs to another user. Run 'casefile login' to sign in as yourself; your changes are kept on this computer."

// ErrWrongUser is WrongUser as an error.
var ErrWrongUser error = sentenceError(WrongUser)

// Refused returns the sentence for a refused token: WrongUser when the
// server said the token is another user's, SessionExpired otherwise.
func Refused(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code == protocol.CodeWrongUser {
		return ErrWrongUser
	}
	return ErrSessionExpired
}

// sentenceError is an error whose text is a sentence for people.
type sentenceError string

func (e sentenceError) Error() string { return string(e) }

// Error is a failed exchange with the server.
type Error struct {
	Class      Class
	Status     int           // HTTP status; 0 when no answer came
	Code       protocol.Code // the server's stable error code, or one derived from Status
	Message    string        // a sentence for people
	RetryAfter time.Duration // 429 and 503: how long the server asked us to wait
	Err        error         // the underlying cause, for logs
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Code)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes every refused token match ErrSessionExpired.
func (e *Error) Is(target error) bool {
	return target == ErrSessionExpired && e.Class == ClassUnauthorized
}

// Transient reports whether the same request may work later.
func (e *Error) Transient() bool { return e.Class == ClassUnreachable || e.Class == ClassFailing }

// ClassOf returns the class of err, or 0 when err is nil or not an *Error
// (context cancellation, local database failures).
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}

// IsTransient reports whether err is a failed exchange worth retrying later.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient()
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeError reads an error answer into an *Error. The body must be the
// protocol's JSON error; anything else (a proxy's HTML page, a truncated
// body) still yields a classified error with a sentence of our own.
func decodeError(resp *http.Response, now time.Time) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var er protocol.ErrorResponse
	e := &Error{Status: resp.StatusCode}
	if err := strictUnmarshal(body, &er); err == nil && er.Error.Code != "" && er.Error.Message != "" {
		e.Code, e.Message = er.Error.Code, er.Error.Message
	} else {
		e.Code = codeForStatus(resp.StatusCode)
		e.Message = fmt.Sprintf("The server answered %d %s.", resp.StatusCode, http.StatusText(resp.StatusCode))
		if err != nil {
			e.Err = fmt.Errorf("decode error answer: %w", err)
		}
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		e.Class = ClassUnauthorized
	case s == http.StatusGone && e.Code == protocol.CodeCursorTooOld:
		e.Class = ClassCursorTooOld
	case s == http.StatusTooManyRequests, s == http.StatusRequestTimeout, s >= 500:
		e.Class = ClassFailing
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	default:
		e.Class = ClassPermanent
	}
	return e
}

func codeForStatus(status int) protocol.Code {
	switch {
	case status == http.StatusUnauthorized:
		return protocol.CodeUnauthorized
	case status == http.StatusForbidden:
		return protocol.CodeForbidden
	case status == http.StatusNotFound:
		return protocol.CodeNotFound
	case status == http.StatusRequestEntityTooLarge:
		return protocol.CodeTooLarge
	case status == http.StatusTooManyRequests:
		return protocol.CodeRateLimited
	case status == http.StatusMethodNotAllowed:
		return protocol.CodeMethod
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return protocol.CodeUnavailable
	case status >= 500:
		return protocol.CodeInternal
	}
	return protocol.CodeBadRequest
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter caps what a server (or a broken proxy) can make us wait.
const maxRetryAfter = time.Hour

// transportError classifies a failure to get an answer at all. parent is
// the caller's context: when it is done the caller is stopping and gets
// its error unchanged.
func transportError(parent context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	e := &Error{Class: ClassFailing, Err: err, Message: "The connection to the server failed."}
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		e.Class, e.Message = ClassUnreachable, "The server's name could not be resolved."
	case errors.As(err, &op) && op.Op == "dial":
		e.Class, e.Message = ClassUnreachable, "The server cannot be reached."
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		e.Class, e.Message = ClassUnreachable, "The server cannot be reached."
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		e.Message = "The server did not answer in time."
	}
	return e
}

// Undelivered reports whether a failed push surely never reached the
// server: no connection was made (the name did not resolve, the dial
// failed), or the server answered without reading it (401, 429, 503).
// Anything else — a reset, a timeout, a lost or broken answer — may have
// come after the server applied the ops.
func Undelivered(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case 0:
		var op *net.OpError
		var dns *net.DNSError
		return errors.As(e.Err, &dns) || (errors.As(e.Err, &op) && op.Op == "dial")
	}
	return false
}

// LinkBroke reports whether err is an exchange the link broke before a
// whole answer came: a connection cut or reset once it was made, an
// answer that ended early, a timeout. Unlike an answer of the server's
// (even a refusal) or a failure to connect at all, it may mean the request
// was more than the link could carry: a smaller one may get through.
func LinkBroke(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != 0 || e.Class != ClassFailing || e.Err == nil {
		return false
	}
	return !errors.Is(e.Err, errProtocol)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errProtocol marks the cause of a protocolError: the answer came whole,
// so the link is not to blame (LinkBroke).
var errProtocol = errors.New("protocol broken")

// protocolError is a 2xx answer that breaks the protocol: the server (or
// something in between) is failing.
func protocolError(format string, args ...any) *Error {
	err := fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
	return &Error{Class: ClassFailing, Message: "The server sent an answer that does not follow the protocol.", Err: err}
}
