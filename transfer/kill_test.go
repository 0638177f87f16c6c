package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefile/assets"
	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/vault"
)

// relay is a TCP forwarder that counts the bytes each way: what the
// client sent (up) and what it received (down), at the connection.
type relay struct {
	ln       net.Listener
	up, down atomic.Int64
}

func newRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", strings.TrimPrefix(target, "http://"))
				if err != nil {
					return
				}
				defer s.Close()
				go func() {
					n, _ := io.Copy(s, c)
					r.up.Add(n)
					s.(*net.TCPConn).CloseWrite()
				}()
				n, _ := io.Copy(c, s)
				r.down.Add(n)
			}()
		}
	}()
	return r
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

func TestKilledTransfersResumeSQLite(t *testing.T)   { testKilledTransfersResume(t, false) }
func TestKilledTransfersResumePostgres(t *testing.T) { testKilledTransfersResume(t, true) }

// `casefile sync` killed with SIGKILL in the middle of an upload, then of
// a download, resumes from what the other side holds: the run after the
// kill moves only the missing chunks (and at most the one in flight),
// counted at the connection, and both devices end with the same bytes.
func testKilledTransfersResume(t *testing.T, postgres bool) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(t.TempDir(), "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	w := newWorld(t, postgres)
	// A slow link, so a kill lands while chunks are moving.
	w.proxy.SetBandwidth(4 << 20)
	rl := newRelay(t, w.proxy.URL)
	run := func(user string) func(args ...string) *exec.Cmd {
		data := filepath.Join(tmp, user)
		if err := config.SaveCredentials(data, config.Credentials{Server: rl.url(), User: user, Device: "kill", Token: w.users[user].Token}); err != nil {
			t.Fatal(err)
		}
		return func(args ...string) *exec.Cmd {
			cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
			cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_CONFIG_HOME="+tmp, "CASEFILE_CONFIG=")
			return cmd
		}
	}
	alice, bob := run("alice"), run("bob")
	must := func(cmd *exec.Cmd) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s%s", cmd.Args, err, out.String(), errb.String())
		}
		return out.String()
	}
	// killWhen starts cmd and kills it with SIGKILL once the proxy has
	// seen n chunk requests.
	killWhen := func(cmd *exec.Cmd, n int) {
		t.Helper()
		before := w.proxy.Requests(protocol.PathFileChunk)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		for w.proxy.Requests(protocol.PathFileChunk)-before < n {
			select {
			case err := <-done:
				t.Fatalf("%v ended before the kill: %v", cmd.Args, err)
			case <-time.After(5 * time.Millisecond): // polling for the moment to kill, not timing an outcome
			}
		}
		cmd.Process.Kill()
		<-done
	}

	const chunks = 8
	data := randomData(t, (chunks-1)*model.ChunkSize+777)
	src := filepath.Join(tmp, "bundle.pdf")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	must(alice("sync"))
	must(bob("sync"))
	// A document to attach to, in the shared matter.
	doc := strings.TrimSpace(must(alice("add", "document", "matter_id="+w.matter, "title=Bundle")))
	id := strings.TrimSpace(must(alice("attach", doc, src)))
	must(alice("sync", "--records-only"))

	// Upload, killed after three chunk requests.
	killWhen(alice("sync"), 3)
	st := uploadStatus(t, w, id)
	if st.Complete || len(st.Have) >= chunks {
		t.Fatalf("the kill came too late: %+v", st)
	}
	up := rl.up.Load()
	must(alice("sync"))
	sent := rl.up.Load() - up
	if max := int64(chunks-len(st.Have)+1)*model.ChunkSize + 64*overhead; sent > max {
		t.Errorf("after the kill the upload sent %d bytes; %d chunks were missing (at most %d)", sent, chunks-len(st.Have), max)
	}

	// Download on bob's device, killed after four chunk requests.
	must(bob("sync", "--records-only"))
	killWhen(bob("sync"), 4)
	held := heldChunks(t, filepath.Join(tmp, "bob"), id)
	if held >= chunks {
		t.Fatalf("the kill came too late: %d chunks held", held)
	}
	// Encrypted at rest: the chunks held of the killed download, and
	// alice's file, are sealed; no piece of the bytes is in either
	// data directory.
	if held == 0 {
		t.Fatal("the kill came too early: no chunk held, nothing sealed to look at")
	}
	for _, who := range []string{"alice", "bob"} {
		noPlaintext(t, filepath.Join(tmp, who), data)
	}
	down := rl.down.Load()
	must(bob("sync"))
	got := rl.down.Load() - down
	if max := int64(chunks-held+1)*model.ChunkSize + 64*overhead; got > max {
		t.Errorf("after the kill the download read %d bytes; %d chunks were missing (at most %d)", got, chunks-held, max)
	}
	out := t.TempDir()
	dst := strings.TrimSpace(must(bob("fetch", id, "--to", out)))
	b, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("bob's copy differs from alice's (%v)", err)
	}
	var files []struct{ State string }
	if err := json.Unmarshal([]byte(must(alice("files", "--json"))), &files); err != nil || len(files) != 1 || files[0].State != string(localdb.FileUploaded) {
		t.Fatalf("alice's files: %+v, %v", files, err)
	}
}

// noPlaintext fails if any file under dir holds a 64-byte piece of data
// from the start of any of its chunks.
func noPlaintext(t *testing.T, dir string, data []byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for off := 0; off+64 <= len(data); off += model.ChunkSize {
			if bytes.Contains(b, data[off:off+64]) {
				t.Errorf("%s holds the bytes at offset %d in plaintext", p, off)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func uploadStatus(t *testing.T, w *world, id string) protocol.UploadStatus {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+protocol.PathFileUpload+"?id="+id, nil)
	req.Header.Set("Authorization", "Bearer "+w.users["alice"].Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st protocol.UploadStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func heldChunks(t *testing.T, dataDir, id string) int {
	t.Helper()
	schema, _ := model.ParseSchema(assets.Schema)
	// The CLI encrypted the directory with a key stored beside it (no
	// terminal, no passphrase).
	keys, err := vault.Unlock(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), config.DBPath(dataDir), schema, localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, err := db.ChunksHeld(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(held)
}
