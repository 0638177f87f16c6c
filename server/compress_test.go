package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// rawCall sends body (gzip-compressed when zip) with the given
// Accept-Encoding and returns the status, the headers and the body as sent.
func rawCall(t *testing.T, c *servertest.Client, method, path string, body []byte, zip bool, accept string) (int, http.Header, []byte) {
	t.Helper()
	if zip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, c.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if zip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	// A transport that leaves Accept-Encoding and the answer as they are.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompressedTransfer: answers are gzip-compressed only for a client
// that accepts gzip (and only when large enough to pay), decoding to the
// plain answer; every answer says the server reads gzip request bodies;
// a gzip push is applied as the plain one would be, and a body that is
// not gzip or names another encoding is refused with a sentence.
func TestCompressedTransfer(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Compressed")
	var ops []model.Op
	for i := range 20 {
		ops = append(ops, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": fmt.Sprintf("note %d", i),
			"body": "Met the witness at the site office; photos filed under evidence."}))
	}
	push, _ := json.Marshal(protocol.PushRequest{Ops: ops})
	status, hdr, body := rawCall(t, alice, http.MethodPost, protocol.PathPush, push, true, "gzip")
	if status != http.StatusOK || hdr.Get("Content-Encoding") != "gzip" || hdr.Get("Accept-Encoding") != "gzip" {
		t.Fatalf("gzip push: %d, headers %v", status, hdr)
	}
	var pr protocol.PushResponse
	if err := json.Unmarshal(gunzip(t, body), &pr); err != nil || len(pr.Results) != 20 || pr.Results[19].Result != model.ResultApplied {
		t.Fatalf("gzip push answer: %v %+v", err, pr)
	}

	plainStatus, plainHdr, plain := rawCall(t, alice, http.MethodGet, protocol.PathPull+"?cursor=0", nil, false, "")
	if plainStatus != http.StatusOK || plainHdr.Get("Content-Encoding") != "" {
		t.Fatalf("pull without Accept-Encoding: %d, %v", plainStatus, plainHdr)
	}
	for _, accept := range []string{"gzip", "br, gzip;q=0.5", "GZIP"} {
		_, zh, zb := rawCall(t, alice, http.MethodGet, protocol.PathPull+"?cursor=0", nil, false, accept)
		if zh.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, zb), plain) || len(zb) >= len(plain) {
			t.Fatalf("pull accepting %q: encoding %q, %d bytes for %d plain", accept, zh.Get("Content-Encoding"), len(zb), len(plain))
		}
	}
	if _, zh, _ := rawCall(t, alice, http.MethodGet, protocol.PathPull+"?cursor=0", nil, false, "gzip;q=0"); zh.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got a gzip answer")
	}
	// A small answer is not worth it.
	if _, zh, _ := rawCall(t, alice, http.MethodGet, protocol.PathPull+"?cursor=1000000", nil, false, "gzip"); zh.Get("Content-Encoding") != "" {
		t.Fatal("a small answer was compressed")
	}

	for _, bad := range []struct {
		name string
		req  func() (*http.Request, error)
	}{
		{"not gzip", func() (*http.Request, error) {
			r, err := http.NewRequest(http.MethodPost, alice.URL+protocol.PathPush, bytes.NewReader(push))
			r.Header.Set("Content-Encoding", "gzip")
			return r, err
		}},
		{"br", func() (*http.Request, error) {
			r, err := http.NewRequest(http.MethodPost, alice.URL+protocol.PathPush, bytes.NewReader(push))
			r.Header.Set("Content-Encoding", "br")
			return r, err
		}},
	} {
		req, _ := bad.req()
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var er protocol.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&er)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || er.Error.Code != protocol.CodeBadRequest || er.Error.Message == "" {
			t.Errorf("%s: %d %+v; want 400 bad_request with a sentence", bad.name, resp.StatusCode, er)
		}
	}
}
