package server

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"runtime"
	"strings"

	"casefile/internal/keep"
)

// gzipMinBytes is the smallest answer worth compressing: below it the
// gzip header and the CPU cost more than they save.
const gzipMinBytes = 1 << 10

// gzips keeps compressors between answers (internal/keep: a sync.Pool,
// emptied by collections, built most of a megabyte anew for most
// answers), as many as there are cores to compress on, and some;
// BestSpeed because on a fast link the CPU is the cost, and JSON
// compresses well even at level 1.
var gzips = keep.New[*gzip.Writer](2 * runtime.GOMAXPROCS(0))

// acceptsGzip reports whether a request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// gzipBody compresses b, or returns nil when it would not pay.
func gzipBody(b []byte) []byte {
	if len(b) < gzipMinBytes {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	zw, ok := gzips.Get()
	if !ok {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	}
	defer gzips.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}
