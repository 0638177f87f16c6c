package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestFileAccessProperty runs random histories of matters, grants,
// revocations, attachments (some uploaded) and deletions, and after every
// step lets a random user ask every file route about a random attachment:
// one who may see its matter gets an answer about the file; anyone else
// gets exactly the bytes, status and headers a never-used id gets — no
// existence, hash or size leaks.
func TestFileAccessProperty(t *testing.T) {
	histories := envInt(t, "CASEFILE_FILE_ACCESS_HISTORIES", 8)
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

type fileRec struct {
	id, matter string
	data       []byte
	deleted    bool
	version    int64
}

func fileHistory(t *testing.T, srv *servertest.Server, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xf11e5))
	name := func(s string) string { return fmt.Sprintf("f%d%s", seed, s) }
	owner := srv.NewUser(t, name("owner"), server.RoleMember)
	users := map[string]*servertest.Client{name("owner"): owner}
	for i, role := range []protocol.Role{server.RoleMember, server.RoleMember, server.RoleViewer} {
		u := name("u" + strconv.Itoa(i))
		users[u] = srv.NewUser(t, u, role)
	}
	names := []string{name("owner"), name("u0"), name("u1"), name("u2")}
	member := map[string]map[string]bool{}
	for _, u := range names {
		member[u] = map[string]bool{}
	}
	var matters []string
	var files []*fileRec
	for range 40 {
		switch k := rng.IntN(10); {
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
			data := []byte(fmt.Sprintf("bytes %d of %s", rng.Uint64(), m))
			sum := sha256.Sum256(data)
			a := model.Attachment{MatterID: m, RecordID: m, Name: "x.txt", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
			res := owner.PushOne(t, servertest.Create(model.AttachmentCollection, a.Fields()))
			f := &fileRec{id: res.Record.ID, matter: m, data: data, version: res.Record.Version}
			files = append(files, f)
			if rng.IntN(2) == 0 {
				if a, err := probe(owner, http.MethodPut, protocol.PathFileChunk, f.id, data); err != nil || a.status != http.StatusOK {
					return fmt.Errorf("upload: %+v, %v", a, err)
				}
			}
		default:
			if len(files) > 0 {
				f := files[rng.IntN(len(files))]
				if !f.deleted {
					owner.PushOne(t, servertest.Delete(&protocol.Record{ID: f.id, Collection: model.AttachmentCollection, Version: f.version}))
					f.deleted = true
				}
			}
		}
		if len(files) == 0 {
			continue
		}
		u := names[rng.IntN(len(names))]
		f := files[rng.IntN(len(files))]
		sees := member[u][f.matter] && !f.deleted
		for _, r := range []struct {
			method, path string
			body         []byte
		}{{http.MethodGet, protocol.PathFile, nil}, {http.MethodGet, protocol.PathFileChunk, nil},
			{http.MethodGet, protocol.PathFileUpload, nil}, {http.MethodPut, protocol.PathFileChunk, f.data}} {
			got, err := probe(users[u], r.method, r.path, f.id, r.body)
			if err != nil {
				return err
			}
			none, err := probe(users[u], r.method, r.path, model.NewID(), r.body)
			if err != nil {
				return err
			}
			switch {
			case !sees && got != none:
				return fmt.Errorf("%s, who cannot see matter %s (or the file is deleted), asked %s %s about %s: %+v, an unknown id gets %+v",
					u, f.matter, r.method, r.path, f.id, got, none)
			case sees && got.status == http.StatusNotFound:
				return fmt.Errorf("%s sees matter %s but %s %s says no such file", u, f.matter, r.method, r.path)
			case sees && got.status == http.StatusOK && r.method == http.MethodGet && r.path == protocol.PathFileChunk && got.body != string(f.data):
				return fmt.Errorf("%s downloaded other bytes than the file's", u)
			}
		}
	}
	return nil
}
