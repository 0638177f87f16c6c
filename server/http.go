package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"casefile/internal/jsonread"
	"casefile/protocol"
	"casefile/server/store"
)

// apiError is an error answer: a status, a stable code and a public
// sentence, with the private cause kept for the log.
type apiError struct {
	status     int
	code       protocol.Code
	msg        string
	cause      error
	retryAfter time.Duration
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.msg }

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

var errUnauthorized = &apiError{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized,
	msg: "Sign in again: the token is missing, expired or revoked."}

// errDeviceRevoked answers every request of a device an admin revoked.
var errDeviceRevoked = &apiError{status: http.StatusUnauthorized, code: protocol.CodeDeviceRevoked,
	msg: "This device was revoked by an administrator: delete this device's copy of the server's data; unsent changes are kept in an encrypted export."}

// statusClientClosed is the status counted for a request whose client
// hung up before its answer (nginx's 499; no answer reaches anyone).
const statusClientClosed = 499

// busyRetryAfter is the wait a client is asked for when the database was
// too busy for its request (store.ErrBusy) or could not be reached.
const busyRetryAfter = 2 * time.Second

// errInternal answers a failure of the server's. One of its database's
// that left nothing done is 503 unavailable with Retry-After instead, so
// the request may be sent again as it was: a wait for a lock given up
// (store.ErrBusy), no connection to be had (store.ErrUnavailable), or a
// write whose connection died before it committed (store.ErrNotCommitted).
func errInternal(cause error) *apiError {
	switch {
	case errors.Is(cause, store.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			msg: "The server's database is busy; try again in a moment.", cause: cause, retryAfter: busyRetryAfter}
	case errors.Is(cause, store.ErrUnavailable), errors.Is(cause, store.ErrNotCommitted):
		return &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			msg: "The server cannot reach its database; try again in a moment.", cause: cause, retryAfter: busyRetryAfter}
	}
	return &apiError{status: http.StatusInternalServerError, code: protocol.CodeInternal,
		msg: "The server could not complete the request; try again later.", cause: cause}
}

// route is one method and exact path of a handler.
type route struct {
	method, path string
	h            http.HandlerFunc
}

// routes builds the API, with /metrics unless it has a listener of its own.
func (s *Server) routes() http.Handler {
	table := []route{
		{http.MethodPost, protocol.PathLogin, s.handleLogin},
		{http.MethodPost, protocol.PathPush, s.authedInWrite(s.handlePush)},
		{http.MethodGet, protocol.PathPull, s.authed(s.handlePull)},
		{http.MethodGet, protocol.PathEvents, s.authed(s.handleEvents)},
		{http.MethodGet, protocol.PathWhoami, s.authed(s.handleWhoami)},
		{http.MethodGet, protocol.PathHealth, s.handleHealth},
		{http.MethodHead, protocol.PathHealth, s.handleHealth}, // load balancers probe with HEAD
		{http.MethodGet, protocol.PathFile, s.authed(s.handleFile)},
		{http.MethodGet, protocol.PathFileChunk, s.authed(s.handleGetChunk)},
		{http.MethodPut, protocol.PathFileChunk, s.authed(s.handlePutChunk)},
		{http.MethodGet, protocol.PathFileUpload, s.authed(s.handleUploadStatus)},
	}
	if s.opts.MetricsListen == "" {
		table = append(table, s.metricsRoute())
	}
	return s.router(table)
}

// router serves a table of routes. Every path is exact: anything else is
// a JSON 404, a known path with another method a JSON 405.
func (s *Server) router(table []route) http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for _, r := range table {
		mux.HandleFunc(r.method+" "+r.path, r.h)
		methods[r.path] = append(methods[r.path], r.method)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metrics.inFlight.Add(1)
		defer s.metrics.inFlight.Add(-1)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, gzip: acceptsGzip(r)}
		// Request bodies may come gzip-compressed (see decodeBody).
		rec.Header().Set("Accept-Encoding", "gzip")
		route := "unmatched"
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // a sentinel value, not a wrapped error
					panic(v)
				}
				s.log.Error("handler panicked", "route", route, "panic", v, "stack", string(debug.Stack()))
				if !rec.wrote {
					s.writeError(rec, r, errInternal(fmt.Errorf("panic: %v", v)))
				}
			}
			s.metrics.request(route, rec.status)
		}()
		path := r.URL.EscapedPath()
		allowed, ok := methods[path]
		switch {
		case !ok:
			s.writeError(rec, r, &apiError{status: http.StatusNotFound, code: protocol.CodeNotFound, msg: "No such API route."})
		case !slices.Contains(allowed, r.Method):
			rec.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(rec, r, &apiError{status: http.StatusMethodNotAllowed, code: protocol.CodeMethod,
				msg: "This route answers " + strings.Join(allowed, ", ") + " only."})
		default:
			route = path
			mux.ServeHTTP(rec, r)
		}
	})
}

// statusRecorder notes the status a handler wrote, for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	gzip   bool // the client accepts gzip answers
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"The server could not encode its answer."}}`)
		status = http.StatusInternalServerError
	}
	writeJSONBody(w, status, append(b, '\n'))
}

// writeJSONBody answers with b, JSON ending in a newline, compressed when
// the request asked for it.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	writeBody(w, status, "application/json", b)
}

// writeBody answers with b, of the media type ct, compressed when the
// request asked for it.
func writeBody(w http.ResponseWriter, status int, ct string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if rec, ok := w.(*statusRecorder); ok && rec.gzip {
		h.Add("Vary", "Accept-Encoding")
		if z := gzipBody(b); z != nil {
			h.Set("Content-Encoding", "gzip")
			b = z
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers with err's public side and logs its private cause.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal(err)
	}
	if ae.status >= 500 && r.Context().Err() != nil && errors.Is(ae.cause, context.Canceled) {
		// The client hung up before its answer: nothing failed here, and
		// no one reads what is written. Counted as 499, as proxies do,
		// so that a client's closed laptop lid is not a server error.
		s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", ae.cause)
		w.WriteHeader(statusClientClosed)
		return
	}
	// A full quota is the client's condition, not the server's failure:
	// logged as any refusal, so that uploads past it cannot fill the error
	// log.
	if ae.status >= 500 && ae.status != http.StatusInsufficientStorage {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", ae.code, "err", ae.cause)
	} else if ae.cause != nil {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", ae.code, "err", ae.cause)
	}
	if ae.retryAfter > 0 {
		secs := int(ae.retryAfter.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	writeJSON(w, ae.status, protocol.ErrorResponse{Error: protocol.Error{Code: ae.code, Message: ae.msg}})
}

// decodeBody reads a JSON request body strictly: at most
// protocol.MaxBodyBytes, valid UTF-8, one object, no unknown keys.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, code: protocol.CodeTooLarge,
		msg: fmt.Sprintf("The request body is larger than %d bytes; send fewer ops per request.", protocol.MaxBodyBytes)}
	if r.ContentLength > protocol.MaxBodyBytes {
		return tooLarge
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errBadRequest("The request body must be JSON (Content-Type: application/json).")
		}
	}
	in := io.Reader(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
	switch ce := strings.TrimSpace(r.Header.Get("Content-Encoding")); {
	case ce == "" || strings.EqualFold(ce, "identity"):
	case strings.EqualFold(ce, "gzip"):
		zr, err := gzip.NewReader(in)
		if err != nil {
			return &apiError{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: "The request body is not valid gzip.", cause: err}
		}
		defer zr.Close()
		// The limit holds for the body as decoded too.
		in = io.LimitReader(zr, protocol.MaxBodyBytes+1)
	default:
		return errBadRequest("The request body's Content-Encoding must be gzip or none.")
	}
	body, err := io.ReadAll(in)
	if len(body) > protocol.MaxBodyBytes {
		return tooLarge
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return &apiError{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: "The request body could not be read.", cause: err}
	}
	if !utf8.Valid(body) {
		return errBadRequest("The request body is not valid UTF-8.")
	}
	// One object: null, which would decode to nothing, and arrays,
	// strings or numbers are refused before any decoder sees them.
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] != '{' {
		return errBadRequest("The request body must be one JSON object.")
	}
	switch p := v.(type) {
	case *protocol.PushRequest:
		// A push is decoded without reflection when it can be. What
		// decodePushRequest takes, everything below would take, and it has
		// no key twice; what it declines goes below for its answer.
		if jsonread.Into(p, body, decodePushRequest) {
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &apiError{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: jsonProblem(err), cause: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadRequest("The request body must hold one JSON object and nothing after it.")
	}
	if k := duplicateKey(body); k != "" {
		return errBadRequest("The request body has the key %q twice in one object.", truncate(k, 64))
	}
	return nil
}

// jsonProblem turns a decoding error into a sentence that names the place
// but echoes nothing of the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body is empty or cut short."
	case errors.As(err, &syn):
		return fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("The request body has the wrong type for %q (want %s).", truncate(typ.Field, 64), jsonKind(typ.Type))
		}
		return fmt.Sprintf("The request body has the wrong JSON type (want %s).", jsonKind(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "The request body has an unknown key " + truncate(strings.TrimPrefix(err.Error(), "json: unknown field "), 64) +
			"; server-owned fields (version, seq, created_by…) cannot be sent."
	}
	return "The request body is not valid JSON."
}

// jsonKind names a Go type as the JSON it decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// healthTimeout bounds /healthz's read of the head: a database that does
// not answer in this long is as good as unreachable to a load balancer,
// which must hear so rather than wait for an answer that may never come.
const healthTimeout = 5 * time.Second

// handleHealth answers whether the server reaches its database. The head
// (the firm-wide change sequence: how busy the firm is) is told only to a
// caller with a valid token.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	head, err := s.Head(ctx)
	if err != nil {
		s.writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			msg: "The server cannot reach its database.", cause: err})
		return
	}
	answer := protocol.HealthResponse{Status: "ok"}
	if r.Header.Get("Authorization") != "" {
		if _, ae := s.authenticate(r); ae == nil {
			answer.Head = head
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// logAttrs are the constant keys of request logs.
func logAttrs(p *principal) []any {
	return []any{slog.String("user", p.user), slog.String("device", p.device)}
}
