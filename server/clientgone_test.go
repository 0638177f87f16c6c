package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientGoneIsNotAServerError: a request whose client hung up, so that
// the store's work ended with the request's context canceled, is counted
// as 499 and logged at debug, not as an error 500 in the server's log; a
// cancel that is not the client's (the request still wanted) stays a 500.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	cause := fmt.Errorf("begin write: %w", context.Canceled)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/login", nil), errInternal(cause))
	if w.Code != statusClientClosed || strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "client went away") {
		t.Errorf("a client gone: status %d, log %q", w.Code, logs.String())
	}

	logs.Reset()
	w = httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest(http.MethodPost, "/v1/login", nil), errInternal(cause))
	if w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a cancel while the client waits: status %d, log %q", w.Code, logs.String())
	}

	logs.Reset()
	w = httptest.NewRecorder()
	s.writeError(w, httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/login", nil), errInternal(errors.New("disk I/O error")))
	if w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a real failure with the client gone: status %d, log %q", w.Code, logs.String())
	}
}
