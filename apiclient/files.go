package apiclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"casefile/model"
	"casefile/protocol"
)

func fileQuery(id string, n int) url.Values {
	q := url.Values{"id": {id}}
	if n >= 0 {
		q.Set("n", strconv.Itoa(n))
	}
	return q
}

// UploadStatus asks which chunks of an attachment's upload the server holds.
func (c *Client) UploadStatus(ctx context.Context, id string) (protocol.UploadStatus, error) {
	var st protocol.UploadStatus
	err := c.do(ctx, http.MethodGet, protocol.PathFileUpload, fileQuery(id, -1), nil, &st, c.timeout)
	return st, err
}

// PutChunk uploads chunk n of an attachment's file with its SHA-256 and
// returns the upload's status after it.
func (c *Client) PutChunk(ctx context.Context, id string, n int, data []byte) (protocol.UploadStatus, error) {
	sum := sha256.Sum256(data)
	var st protocol.UploadStatus
	err := c.exchange(ctx, http.MethodPut, protocol.PathFileChunk, fileQuery(id, n), data, func(req *http.Request) {
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(protocol.HeaderChunkSHA256, hex.EncodeToString(sum[:]))
	}, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return transportError(ctx, err)
		}
		if err := strictUnmarshal(data, &st); err != nil {
			return protocolError("decode answer: %v", err)
		}
		return nil
	})
	return st, err
}

// FileManifest asks for an attachment's manifest (size, chunk sums).
func (c *Client) FileManifest(ctx context.Context, id string) (protocol.FileManifest, error) {
	var m protocol.FileManifest
	err := c.do(ctx, http.MethodGet, protocol.PathFile, fileQuery(id, -1), nil, &m, c.timeout)
	return m, err
}

// GetChunk downloads chunk n of an attachment's file and returns its bytes
// and the SHA-256 the server sent with them (the caller checks both).
func (c *Client) GetChunk(ctx context.Context, id string, n int) ([]byte, string, error) {
	var (
		b   []byte
		sum string
	)
	err := c.exchange(ctx, http.MethodGet, protocol.PathFileChunk, fileQuery(id, n), nil, nil, func(resp *http.Response) error {
		sum = resp.Header.Get(protocol.HeaderChunkSHA256)
		var err error
		b, err = io.ReadAll(io.LimitReader(resp.Body, model.ChunkSize+1))
		if err != nil {
			return transportError(ctx, err)
		}
		if len(b) > model.ChunkSize {
			return protocolError("a chunk larger than %d bytes", model.ChunkSize)
		}
		return nil
	})
	return b, sum, err
}

// exchange sends one request with a raw body and hands a 2xx answer to
// read; other answers become an *Error.
func (c *Client) exchange(parent context.Context, method, path string, q url.Values, body []byte, prepare func(*http.Request), read func(*http.Response) error) error {
	// Timed on silence, not on total duration, like every other
	// exchange: a chunk on a slow link takes as long as its bytes keep
	// moving (a total timeout gave up on chunks still arriving).
	wd := newWatchdog(parent, c.timeout)
	defer wd.stop()
	req, err := c.newRequest(wd.ctx, method, path, q, nil)
	if err != nil {
		return err
	}
	if body != nil {
		req.Body = io.NopCloser(wd.reader(bytes.NewReader(body)))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(wd.reader(bytes.NewReader(body))), nil }
	}
	if prepare != nil {
		prepare(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(parent, wd.explain(err))
	}
	defer resp.Body.Close()
	wd.progress()
	resp.Body = readCloser{wd.reader(resp.Body), resp.Body}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp, c.now())
	}
	return read(resp)
}
