// Package servertest starts real sync servers for tests: a server on
// 127.0.0.1 over a temporary SQLite store (or a given PostgreSQL URL), with
// a small client to log in, push and pull.
//
//	srv := servertest.Start(t)
//	alice := srv.NewUser(t, "alice", server.RoleMember)
//	matter := alice.CreateMatter(t, "Smith v Jones")
//	resp, err := alice.Pull(ctx, 0, 0)
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"casefile/assets"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
)

// Server is a running test server.
type Server struct {
	*server.Server
	URL string // http://127.0.0.1:PORT
	Dir string // the data directory ("" for PostgreSQL)
}

// Option adjusts the server's options before it opens.
type Option func(*server.Options)

// SizesNotFixed gives the server the schema of servers before fixed
// fields, under which any member could change an attachment's size or
// sha256: records such servers wrote may hold such changes.
func SizesNotFixed(t testing.TB) Option {
	t.Helper()
	schema, err := model.ParseSchema(bytes.ReplaceAll(assets.Schema, []byte("fixed = true"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := schema.Collection(model.AttachmentCollection); c.FixedProblems(model.Fields{}, model.Fields{model.AttachSizeField: 1.0}) != nil {
		t.Fatal("the schema still fixes an attachment's size")
	}
	return func(o *server.Options) { o.Schema = schema }
}

// Start starts a server on 127.0.0.1 with a SQLite store in t.TempDir(),
// cheap password hashing and no background compaction, and closes it when
// the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := server.Options{
		DataDir:      t.TempDir(),
		Logger:       slog.New(slog.DiscardHandler),
		Password:     server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
		CompactEvery: -1,
	}
	for _, fn := range opts {
		fn(&o)
	}
	if o.Store != nil && o.Blobs == nil && o.DatabaseURL == "" {
		// A store passed in has no directory of its own: files go to one
		// of the test's.
		bs, err := blobstore.OpenDir(context.Background(), filepath.Join(o.DataDir, blobstore.DirName))
		if err != nil {
			t.Fatalf("open file store: %v", err)
		}
		o.Blobs = bs
	}
	if o.DatabaseURL != "" || o.Store != nil {
		o.DataDir = ""
	}
	srv, err := server.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
		<-done
	})
	return &Server{Server: srv, URL: "http://" + ln.Addr().String(), Dir: o.DataDir}
}

// Password is the password NewUser gives every user.
const Password = "correct horse battery staple"

// NewUser adds a user with Password and returns a client logged in as them
// from device "test".
func (s *Server) NewUser(t testing.TB, name string, role protocol.Role) *Client {
	t.Helper()
	if err := s.AddUser(context.Background(), name, Password, role); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	c, err := Login(context.Background(), s.URL, name, Password, "test")
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c
}

// Client talks to a server with one token.
type Client struct {
	URL   string
	Token string
	User  string
	HTTP  *http.Client
	// ID, when set, names the client (protocol.HeaderClient) on every
	// request: its streams are not poked for its own pushes.
	ID string
}

// StatusError is an error answer from the server.
type StatusError struct {
	Status     int
	Code       protocol.Code
	Message    string
	RetryAfter string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// Login logs in and returns a client holding the token.
func Login(ctx context.Context, baseURL, user, password, device string) (*Client, error) {
	c := &Client{URL: baseURL, User: user, HTTP: &http.Client{Timeout: 60 * time.Second}}
	var resp protocol.LoginResponse
	if err := c.Call(ctx, http.MethodPost, protocol.PathLogin, protocol.LoginRequest{User: user, Password: password, Device: device}, &resp); err != nil {
		return nil, err
	}
	c.Token = resp.Token
	return c, nil
}

// Call sends a JSON request (body nil for none) and decodes a 200 answer
// into out; other answers become a *StatusError.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.ID != "" {
		req.Header.Set(protocol.HeaderClient, c.ID)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var er protocol.ErrorResponse
		if json.Unmarshal(data, &er) == nil {
			se.Code, se.Message = er.Error.Code, er.Error.Message
		}
		return se
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Push sends ops in one batch.
func (c *Client) Push(ctx context.Context, ops ...model.Op) (protocol.PushResponse, error) {
	var resp protocol.PushResponse
	err := c.Call(ctx, http.MethodPost, protocol.PathPush, protocol.PushRequest{Ops: ops}, &resp)
	return resp, err
}

// Pull asks for one page after cursor (limit 0: the server's default).
func (c *Client) Pull(ctx context.Context, cursor int64, limit int) (protocol.PullResponse, error) {
	q := url.Values{"cursor": {strconv.FormatInt(cursor, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp protocol.PullResponse
	err := c.Call(ctx, http.MethodGet, protocol.PathPull+"?"+q.Encode(), nil, &resp)
	return resp, err
}

// PullFull asks for a later page of a full pull that began under the
// compaction mark mark.
func (c *Client) PullFull(ctx context.Context, cursor, mark int64, limit int) (protocol.PullResponse, error) {
	q := url.Values{"cursor": {strconv.FormatInt(cursor, 10)}, protocol.PullMark: {strconv.FormatInt(mark, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp protocol.PullResponse
	err := c.Call(ctx, http.MethodGet, protocol.PathPull+"?"+q.Encode(), nil, &resp)
	return resp, err
}

// PullAll pulls pages from cursor until nothing more remains and returns
// every page; from cursor 0 it is a full pull.
func (c *Client) PullAll(ctx context.Context, cursor int64) ([]protocol.PullResponse, error) {
	var pages []protocol.PullResponse
	full, mark := cursor == 0, int64(-1)
	for {
		var p protocol.PullResponse
		var err error
		if full && mark >= 0 {
			p, err = c.PullFull(ctx, cursor, mark, 0)
		} else {
			p, err = c.Pull(ctx, cursor, 0)
			mark = p.CompactedThrough
		}
		if err != nil {
			return pages, err
		}
		pages = append(pages, p)
		cursor = p.Cursor
		if !p.More {
			return pages, nil
		}
	}
}

// PushOne pushes one op and returns its result.
func (c *Client) PushOne(t testing.TB, op model.Op) protocol.OpResult {
	t.Helper()
	resp, err := c.Push(context.Background(), op)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("push: %d results for 1 op", len(resp.Results))
	}
	return resp.Results[0]
}

// Create returns a create op for a new record.
func Create(collection string, fields model.Fields) model.Op {
	return model.Op{OpID: model.NewID(), RecordID: model.NewID(), Collection: collection, Kind: model.OpCreate, Fields: fields}
}

// Update returns an update op based on version.
func Update(r *protocol.Record, fields model.Fields) model.Op {
	return model.Op{OpID: model.NewID(), RecordID: r.ID, Collection: r.Collection, Kind: model.OpUpdate, Fields: fields, BaseVersion: r.Version}
}

// Delete returns a delete op based on version.
func Delete(r *protocol.Record) model.Op {
	return model.Op{OpID: model.NewID(), RecordID: r.ID, Collection: r.Collection, Kind: model.OpDelete, BaseVersion: r.Version}
}

// CreateMatter creates a matter (the user becomes a member) and returns
// it.
func (c *Client) CreateMatter(t testing.TB, title string) *protocol.Record {
	t.Helper()
	res := c.PushOne(t, Create(model.MatterCollection, model.Fields{"title": title}))
	if res.Result != model.ResultApplied || res.Record == nil {
		t.Fatalf("create matter: %s %s %s", res.Result, res.Code, res.Message)
	}
	return res.Record
}

// CreateNote creates a note in a matter and returns it.
func (c *Client) CreateNote(t testing.TB, matterID, title string) *protocol.Record {
	t.Helper()
	res := c.PushOne(t, Create("note", model.Fields{model.MatterField: matterID, "title": title}))
	if res.Result != model.ResultApplied || res.Record == nil {
		t.Fatalf("create note: %s %s %s", res.Result, res.Code, res.Message)
	}
	return res.Record
}

// SyncBuffer is a bytes.Buffer a test may read while a server or a
// command writes to it from other goroutines (a log, a command's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
