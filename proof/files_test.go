package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestFileAccessProperty runs random histories of matters, grants,
// revocations, attachments (some uploaded), moves between matters,
// attachments that name another file's bytes by its hash alone, edits of
// an attachment's size or sha256 (refused) with a chunk past its end
// (refused), and deletions, and after every step lets a random user ask
// every file route
// about a random attachment: one who may see its matter gets an answer
// about the file — its bytes only when they were uploaded for it, or an
// attachment living in the same matter now has them; anyone else gets
// exactly the bytes, status and headers a never-used id gets — no
// existence, hash or size leaks.
func TestFileAccessProperty(t *testing.T) {
	histories := envInt(t, "CASEFILE_FILE_ACCESS_HISTORIES", 24)
	srv := servertest.Start(t, noRateLimit, fastDir(t))
	for i := range histories {
		if err := fileHistory(t, srv, uint64(i)+1); err != nil {
			t.Fatalf("history %d: %v\nreplay: CASEFILE_FILE_ACCESS_HISTORIES=%d go test ./proof -run TestFileAccessProperty", i, err, i+1)
		}
	}
}

type probeAnswer struct {
	status int
	body   string
	header string
}

func probe(c *servertest.Client, method, path, id string, body []byte) (probeAnswer, error) {
	q := url.Values{"id": {id}}
	if path == protocol.PathFileChunk {
		q.Set("n", "0")
	}
	req, err := http.NewRequest(method, c.URL+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return probeAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		s := sha256.Sum256(body)
		req.Header.Set(protocol.HeaderChunkSHA256, hex.EncodeToString(s[:]))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return probeAnswer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return probeAnswer{resp.StatusCode, string(b), resp.Header.Get(protocol.HeaderChunkSHA256) + "|" + resp.Header.Get("Content-Type")}, nil
}

// stageChunk sends chunk n of a file.
func stageChunk(c *servertest.Client, id string, n int, body []byte) (probeAnswer, error) {
	q := url.Values{"id": {id}, "n": {strconv.Itoa(n)}}
	req, err := http.NewRequest(http.MethodPut, c.URL+protocol.PathFileChunk+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return probeAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	s := sha256.Sum256(body)
	req.Header.Set(protocol.HeaderChunkSHA256, hex.EncodeToString(s[:]))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return probeAnswer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return probeAnswer{resp.StatusCode, string(b), ""}, nil
}

type fileRec struct {
	id, matter string
	data       []byte // the bytes the record names
	hash       string
	knows      bool // its creator has the bytes (else it named them by hash)
	proven     bool // the server holds the bytes for it
	deleted    bool
	version    int64
}

// readable says whether the server must serve f's bytes: uploaded for it,
// or held for another attachment that lives in f's matter now.
func readable(f *fileRec, files []*fileRec) bool {
	if f.proven {
		return true
	}
	for _, g := range files {
		if g != f && g.proven && !g.deleted && g.matter == f.matter && g.hash == f.hash {
			return true
		}
	}
	return false
}

func fileHistory(t *testing.T, srv *servertest.Server, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xf11e5))
	name := func(s string) string { return fmt.Sprintf("f%d%s", seed, s) }
	owner := srv.NewUser(t, name("owner"), server.RoleMember)
	users := map[string]*servertest.Client{name("owner"): owner}
	roles := []protocol.Role{server.RoleMember, server.RoleMember, server.RoleViewer}
	for i, role := range roles {
		u := name("u" + strconv.Itoa(i))
		users[u] = srv.NewUser(t, u, role)
	}
	names := []string{name("owner"), name("u0"), name("u1"), name("u2")}
	viewer := map[string]bool{name("u2"): true}
	member := map[string]map[string]bool{}
	for _, u := range names {
		member[u] = map[string]bool{}
	}
	var matters []string
	var files []*fileRec
	attachTo := func(c *servertest.Client, m string, data []byte, knows bool) *fileRec {
		sum := sha256.Sum256(data)
		a := model.Attachment{MatterID: m, RecordID: m, Name: "x.txt", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		res := c.PushOne(t, servertest.Create(model.AttachmentCollection, a.Fields()))
		f := &fileRec{id: res.Record.ID, matter: m, data: data, hash: a.SHA256, knows: knows, version: res.Record.Version}
		files = append(files, f)
		return f
	}
	live := func() []*fileRec {
		var out []*fileRec
		for _, f := range files {
			if !f.deleted {
				out = append(out, f)
			}
		}
		return out
	}
	for step := range 40 {
		switch k := rng.IntN(13); {
		case k < 2 || len(matters) == 0:
			m := owner.CreateMatter(t, name("m"))
			matters = append(matters, m.ID)
			member[names[0]][m.ID] = true
		case k < 4:
			u, m := names[1+rng.IntN(3)], matters[rng.IntN(len(matters))]
			if err := srv.Grant(bg, u, m); err != nil {
				return err
			}
			member[u][m] = true
		case k < 5:
			u, m := names[1+rng.IntN(3)], matters[rng.IntN(len(matters))]
			if member[u][m] {
				if err := srv.Revoke(bg, u, m); err != nil {
					return err
				}
				delete(member[u], m)
			}
		case k < 8:
			m := matters[rng.IntN(len(matters))]
			f := attachTo(owner, m, []byte(fmt.Sprintf("bytes %d of %s", rng.Uint64(), m)), true)
			if rng.IntN(2) == 0 {
				if a, err := probe(owner, http.MethodPut, protocol.PathFileChunk, f.id, f.data); err != nil || a.status != http.StatusOK {
					return fmt.Errorf("upload: %+v, %v", a, err)
				}
				f.proven = true
			}
		case k < 9:
			if l := live(); len(l) > 0 {
				f := l[rng.IntN(len(l))]
				owner.PushOne(t, servertest.Delete(&protocol.Record{ID: f.id, Collection: model.AttachmentCollection, Version: f.version}))
				f.deleted = true
			}
		case k < 10:
			// The owner, a member of every matter, moves an attachment.
			if l := live(); len(l) > 0 {
				f, m := l[rng.IntN(len(l))], matters[rng.IntN(len(matters))]
				res := owner.PushOne(t, servertest.Update(&protocol.Record{ID: f.id, Collection: model.AttachmentCollection, Version: f.version},
					model.Fields{model.MatterField: m, model.AttachRecordField: m}))
				if res.Result != model.ResultApplied {
					return fmt.Errorf("move of %s to %s: %+v", f.id, m, res)
				}
				f.matter, f.version = m, res.Record.Version
			}
		case k < 11:
			// A member who may write tries to change an attachment's size
			// or sha256, which its bytes decide: refused, naming the
			// field, whatever its creator has sent of it; and a chunk
			// past the file's end is refused too.
			l := live()
			if len(l) == 0 {
				break
			}
			f := l[rng.IntN(len(l))]
			var writers []string
			for _, u := range names[:3] {
				if member[u][f.matter] {
					writers = append(writers, u)
				}
			}
			c := users[writers[rng.IntN(len(writers))]]
			n := 1 + rng.IntN(2)
			wrong := int64(n)*model.ChunkSize + 1 + rng.Int64N(100)
			other := sha256.Sum256(append([]byte{byte(rng.UintN(256))}, f.data...))
			change, field := model.Fields{model.AttachSizeField: float64(wrong)}, model.AttachSizeField
			if rng.IntN(2) == 0 {
				change, field = model.Fields{model.AttachHashField: hex.EncodeToString(other[:])}, model.AttachHashField
			}
			change[model.AttachNameField] = fmt.Sprintf("renamed-%d.txt", step)
			res := c.PushOne(t, servertest.Update(&protocol.Record{ID: f.id, Collection: model.AttachmentCollection, Version: f.version}, change))
			if res.Result != model.ResultRejected || res.Code != protocol.CodeValidation || len(res.Problems) != 1 ||
				res.Problems[0].Field != field || res.Problems[0].Kind != model.ProblemFixed {
				return fmt.Errorf("change of %s's %s: %+v", f.id, field, res)
			}
			if model.ChunkLen(int64(len(f.data)), n) < 0 {
				chunk := make([]byte, model.ChunkLen(wrong, n))
				if a, err := stageChunk(c, f.id, n, chunk); err != nil || a.status != http.StatusBadRequest {
					return fmt.Errorf("stage chunk %d of %s, a file of %d bytes: %+v, %v", n, f.id, len(f.data), a, err)
				}
			}
		default:
			// A member who may write names, in a matter of theirs, the
			// bytes of any attachment (seen once, or its hash guessed).
			if len(files) == 0 {
				continue
			}
			u := names[rng.IntN(3)]
			var mine []string
			for _, m := range matters {
				if member[u][m] {
					mine = append(mine, m)
				}
			}
			if len(mine) > 0 {
				attachTo(users[u], mine[rng.IntN(len(mine))], files[rng.IntN(len(files))].data, false)
			}
		}
		if len(files) == 0 {
			continue
		}
		u := names[rng.IntN(len(names))]
		f := files[rng.IntN(len(files))]
		sees := member[u][f.matter] && !f.deleted
		has := sees && readable(f, files)
		for _, r := range []struct {
			method, path string
			body         []byte
		}{{http.MethodGet, protocol.PathFile, nil}, {http.MethodGet, protocol.PathFileChunk, nil},
			{http.MethodGet, protocol.PathFileUpload, nil}, {http.MethodPut, protocol.PathFileChunk, f.data}} {
			if sees && r.method == http.MethodPut && !f.knows {
				continue // they cannot send bytes they do not have
			}
			got, err := probe(users[u], r.method, r.path, f.id, r.body)
			if err != nil {
				return err
			}
			none, err := probe(users[u], r.method, r.path, model.NewID(), r.body)
			if err != nil {
				return err
			}
			write := r.method == http.MethodPut || r.path == protocol.PathFileUpload
			switch {
			case !sees && got != none:
				return fmt.Errorf("%s, who cannot see matter %s (or the file is deleted), asked %s %s about %s: %+v, an unknown id gets %+v",
					u, f.matter, r.method, r.path, f.id, got, none)
			case !sees:
			case got.status == http.StatusNotFound:
				return fmt.Errorf("%s sees matter %s but %s %s says no such file", u, f.matter, r.method, r.path)
			case write && viewer[u]:
				if got.status != http.StatusForbidden {
					return fmt.Errorf("viewer %s asked %s %s: %+v", u, r.method, r.path, got)
				}
			case r.method == http.MethodPut:
				var st protocol.UploadStatus
				if got.status != http.StatusOK || json.Unmarshal([]byte(got.body), &st) != nil || !st.Complete {
					return fmt.Errorf("%s uploaded the bytes of %s: %+v", u, f.id, got)
				}
				f.proven, has = true, true
			case r.path == protocol.PathFileUpload:
				var st protocol.UploadStatus
				if got.status != http.StatusOK || json.Unmarshal([]byte(got.body), &st) != nil || st.Complete != has {
					return fmt.Errorf("%s asked the upload status of %s (%s): %+v, want complete %v", u, f.id, f.label(), got, has)
				}
			case !has:
				if got.status != http.StatusConflict || !strings.Contains(got.body, string(protocol.CodeNotUploaded)) {
					return fmt.Errorf("%s asked %s %s about %s (%s), whose bytes it must not serve: %+v", u, r.method, r.path, f.id, f.label(), got)
				}
			case got.status != http.StatusOK:
				return fmt.Errorf("%s asked %s %s about %s (%s): %+v, want its bytes", u, r.method, r.path, f.id, f.label(), got)
			case r.path == protocol.PathFileChunk && got.body != string(f.data):
				return fmt.Errorf("%s downloaded other bytes than the file's", u)
			}
		}
		// A file the server served is held for the record from now on.
		f.proven = f.proven || has
	}
	return nil
}

// label describes how a record came by its bytes, for a failure's message.
func (f *fileRec) label() string {
	return fmt.Sprintf("in matter %s, named by hash only %v, uploaded or derived %v", f.matter, !f.knows, f.proven)
}
