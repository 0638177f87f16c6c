package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"casefile/protocol"
)

// net/http answers some requests before any handler runs — headers over
// MaxHeaderBytes (431), a malformed request line or header (400), an
// unsupported transfer encoding (501) or HTTP version (505) — with a plain-text body written
// straight to the connection. jsonErrorListener rewrites those answers
// into the API's JSON error body, so every error a client gets has the
// same shape.

// goErrorHeaders is how net/http's own error answers end their headers;
// no handler of ours writes this (our errors are application/json).
var goErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorConn{c}, nil
}

type jsonErrorConn struct{ net.Conn }

// Write passes everything through but net/http's own error answers, which
// it sends in one write of their own.
func (c jsonErrorConn) Write(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return c.Conn.Write(b)
	}
	statusLine, rest, ok := bytes.Cut(b, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(rest, goErrorHeaders[2:]) {
		return c.Conn.Write(b)
	}
	fields := strings.SplitN(string(statusLine), " ", 3)
	if len(fields) < 2 {
		return c.Conn.Write(b)
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil || status < 400 {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(jsonErrorAnswer(status)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// jsonErrorAnswer is a whole HTTP answer with the JSON error body for one
// of net/http's own error statuses.
func jsonErrorAnswer(status int) []byte {
	e := protocol.Error{Code: protocol.CodeBadRequest, Message: "The request is malformed HTTP."}
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		e = protocol.Error{Code: protocol.CodeTooLarge, Message: fmt.Sprintf("The request headers are larger than %d KiB.", maxHeaderBytes>>10)}
	case http.StatusNotImplemented:
		e.Message = "The request uses a transfer encoding this server does not support."
	case http.StatusHTTPVersionNotSupported:
		e.Message = "The request's HTTP version is not one this server speaks (HTTP/1.0, HTTP/1.1 or HTTP/2)."
	}
	body, _ := json.Marshal(protocol.ErrorResponse{Error: e})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}
