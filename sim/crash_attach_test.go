package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"casefile/localdb"
	"casefile/localfiles"
)

// attachBytes is the size of each file attachPhase attaches: a few
// chunks, so that copying it into the store takes part of the run.
const attachBytes = 3 << 20

// attachPhase kills `casefile attach` at moments spread evenly over its
// run, in a data directory where a revocation's wipe kept a file never
// uploaded and a new database names it no more. A kill after the file is
// placed in the store and before its row is committed leaves the bytes
// with nothing naming them; a kill while they are copied leaves a
// temporary file. After each kill the store's files are aged past the
// sweep's age, as if the kill were long ago, doctor finds nothing
// (afterKill), and the next command that opens the store (an attach run
// to its end) leaves in it only files a row names and the one the wipe
// kept.
func (r *crashRig) attachPhase(target int) {
	data := filepath.Join(r.dir, "attach")
	r.login(data, "attach-first")
	r.mustRun(data, "sync")
	note := strings.TrimSpace(r.mustRun(data, "add", "note", "matter_id="+r.matter, "title=Attached here"))
	kept := r.attachFile(data, note, "never uploaded")
	if err := r.srv.RevokeDevice(context.Background(), "alice", "attach-first"); err != nil {
		r.t.Fatal(err)
	}
	if out, err := r.command(data, "sync").CombinedOutput(); !strings.Contains(string(out), "never uploaded stay") {
		r.t.Fatalf("sync of a revoked device (%v) kept no file:\n%s", err, out)
	}
	r.login(data, "attach-second")
	r.mustRun(data, "sync")
	note = strings.TrimSpace(r.mustRun(data, "add", "note", "matter_id="+r.matter, "title=Attached after the wipe"))

	var took []time.Duration
	for i := range 3 {
		began := time.Now()
		r.attachFile(data, note, fmt.Sprintf("unkilled %d", i))
		took = append(took, time.Since(began))
	}
	slices.Sort(took)
	slice := took[1] / time.Duration(target)
	orphans := 0
	for n := 0; r.kills["attach"] < target; n++ {
		if n > 4*target {
			r.t.Fatalf("only %d attach kills landed in %d runs", r.kills["attach"], n)
		}
		src := r.attachSource(fmt.Sprintf("killed %d", n))
		delay := time.Duration(n%target)*slice + time.Duration(r.rnd.Float64()*float64(slice))
		killed, code, out := r.killAt("attach", delay, data, "attach", note, src)
		if !killed {
			if code != 0 {
				r.t.Fatalf("an attach exited %d:\n%s", code, out)
			}
			continue
		}
		orphans += len(r.unnamedStored(data, kept))
		r.ageStore(data)
		r.afterKill(data)
		r.attachFile(data, note, fmt.Sprintf("after kill %d", n))
		if left := r.unnamedStored(data, kept); len(left) > 0 {
			r.t.Errorf("after attach kill %d, files no row names outlived the next attach: %v", r.kills["attach"], left)
		}
		if _, err := os.Stat(r.storedPath(data, kept)); err != nil {
			r.t.Fatalf("after attach kill %d, the file the wipe kept is gone: %v", r.kills["attach"], err)
		}
		tmp, err := os.ReadDir(filepath.Join(data, localfiles.DirName, "tmp"))
		if err != nil {
			r.t.Fatal(err)
		}
		if len(tmp) > 0 {
			r.t.Errorf("after attach kill %d, temporary files of the store outlived the next attach: %d", r.kills["attach"], len(tmp))
		}
	}
	r.t.Logf("attach: %d kills left a file no row named", orphans)
}

// attachSource writes a file of attachBytes whose bytes are its own.
func (r *crashRig) attachSource(name string) string {
	b := make([]byte, attachBytes)
	for i := range b {
		b[i] = byte(r.rnd.Uint32())
	}
	p := filepath.Join(r.dir, "attach-src", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// attachFile attaches a new file to note, unkilled, and returns its hash.
func (r *crashRig) attachFile(data, note, name string) string {
	src := r.attachSource(name)
	b, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mustRun(data, "attach", note, src)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *crashRig) storedPath(data, hash string) string {
	return filepath.Join(data, localfiles.DirName, "sha256", hash[:2], hash)
}

// unnamedStored lists the complete files of data's store that no local
// file row names, but for kept.
func (r *crashRig) unnamedStored(data, kept string) []string {
	r.t.Helper()
	ms, err := filepath.Glob(filepath.Join(data, localfiles.DirName, "sha256", "*", "*"))
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	r.local(data, func(db *localdb.DB) {
		for _, m := range ms {
			h := filepath.Base(m)
			if ok, err := db.HasLocalFile(context.Background(), h); err != nil {
				r.t.Fatal(err)
			} else if !ok && h != kept {
				out = append(out, h)
			}
		}
	})
	return out
}

// ageStore makes every file of data's store older than its sweeps' age,
// as if the kill were that long ago. Nothing else runs on data now.
func (r *crashRig) ageStore(data string) {
	r.t.Helper()
	at := time.Now().Add(-localfiles.OrphanAge - time.Minute)
	err := filepath.WalkDir(filepath.Join(data, localfiles.DirName), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, at, at)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}
