package apiclient

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
)

// gzipRequestMin is the smallest request body worth compressing.
const gzipRequestMin = 1 << 10

// compression says whether this client compresses: answers (the Go
// transport asks for gzip and decodes it unless DisableCompression is
// set) and request bodies, once the server has said it reads them
// (Accept-Encoding: gzip on an answer; an older server never says so and
// gets plain bodies).
func (c *Client) compression() bool {
	t, ok := c.hc.Transport.(*http.Transport)
	return !ok || !t.DisableCompression
}

// noteEncodings remembers whether the server reads gzip request bodies.
func (c *Client) noteEncodings(resp *http.Response) {
	for _, v := range strings.Split(resp.Header.Get("Accept-Encoding"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), "gzip") {
			c.gzipUp.Store(true)
			return
		}
	}
}

// maybeGzip compresses a request body when the server reads gzip and it
// pays; it returns the body to send and its Content-Encoding ("" plain).
func (c *Client) maybeGzip(body []byte) ([]byte, string) {
	if len(body) < gzipRequestMin || !c.gzipUp.Load() || !c.compression() {
		return body, ""
	}
	var buf bytes.Buffer
	zw, ok := c.gzips.Get()
	if !ok {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		zw.Reset(&buf)
	}
	defer c.gzips.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return body, ""
	}
	if err := zw.Close(); err != nil {
		return body, ""
	}
	return buf.Bytes(), "gzip"
}

// gunzipBody decodes a gzip answer in place, reading through the body it
// had (the watchdog's, counting bytes as they arrive).
func gunzipBody(resp *http.Response) error {
	if !strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip") {
		return nil
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return protocolError("the answer is not valid gzip: %v", err)
	}
	resp.Body = readCloser{zr, resp.Body}
	resp.Header.Del("Content-Encoding")
	return nil
}
