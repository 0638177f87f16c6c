package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSSEReader(t *testing.T) {
	in := ": hello\n\n" +
		"id: 7\nevent: poke\ndata: {\"seq\":7}\n\n" +
		"data: line one\r\ndata: line two\r\n\r\n" +
		"id: 8\nevent: poke\n: a comment inside an event\ndata:{\"seq\":8}\nretry: 1000\nunknown: x\n\n" +
		"event: poke\ndata: {\"seq\":9}"
	r := NewSSEReader(strings.NewReader(in))
	want := []SSEEvent{
		{Comment: true, Data: "hello"},
		{ID: "7", Event: "poke", Data: `{"seq":7}`},
		{Event: "message", Data: "line one\nline two"},
		{ID: "8", Event: "poke", Data: `{"seq":8}`},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got != w {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream cut inside an event: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := NewSSEReader(strings.NewReader("\n\n")).Next(); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: err = %v, want io.EOF", err)
	}
	if _, err := NewSSEReader(strings.NewReader("data: " + strings.Repeat("x", maxSSELine+1) + "\n\n")).Next(); err == nil {
		t.Errorf("a huge line was accepted")
	}
}

func TestParsePoke(t *testing.T) {
	if p, err := ParsePoke(SSEEvent{Data: `{"seq":42}`}); err != nil || p.Seq != 42 {
		t.Errorf("ParsePoke = %+v, %v", p, err)
	}
	for _, bad := range []string{``, `{`, `{"seq":-1}`, `{"seq":1} x`, `[]`} {
		if _, err := ParsePoke(SSEEvent{Data: bad}); err == nil {
			t.Errorf("ParsePoke(%q) accepted it", bad)
		}
	}
}

func TestEventsRejectsNonStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>captive portal</html>")
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)
	if _, err := c.Events(context.Background(), ""); ClassOf(err) != ClassFailing {
		t.Errorf("err = %v, want a failing exchange", err)
	}
}
