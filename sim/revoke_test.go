package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/internal/wipe"
	"casefile/localdb"
	"casefile/server/servertest"
	"casefile/syncer"
	"casefile/vault"
)

// Device revocation in the scenarios: now and then an admin revokes a
// client's device (a lost laptop). The device must learn it at its next
// exchange, through its faulty link; it then wipes as casefile does
// (internal/wipe): its unsent ops go into a sealed export, exactly those,
// its database and its files go but for the bytes of files never
// uploaded. It signs in again as a fresh device, and every device must
// still converge. The writes the export took away count as taken back.

// revokeOdds is the chance, after a step, that the stepping client's
// device is revoked: about one revocation in two or three scenarios
// (0.003 gave nearly three a scenario; TestDeviceRevocations draws many).
const revokeOdds = 0.001

// newRevokeRand is revocations' own stream, so that drawing them does not
// shift the draws of the scenarios' other steps.
func newRevokeRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^0x7265766f6b65, seed)) }

func (w *world) revokeDraw() float64 {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.vrnd.Float64()
}

// maxRevokeTries bounds the cycles a revoked device may need to hear it
// through faults (each fault is drawn at most a few times in a row).
const maxRevokeTries = 40

func (w *world) revokeDevice(c *client) {
	// The device must reach the server to learn it: its network comes back.
	if c.workOffline {
		w.toggleWorkOffline(c)
	}
	if c.offlineLeft > 0 {
		c.offlineLeft = 0
		c.link.setOffline(false)
	}
	for _, e := range w.journalOf(c) {
		if e.OpID != "" {
			w.retiredOps = append(w.retiredOps, e.OpID)
		}
	}
	c.past = nil
	queued, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox", err)
	w.adminCutDraw()
	w.must("revoke a device", w.srv.RevokeDevice(w.ctx, c.user.name, c.name))
	w.stats.inc("device revocations", 1)
	w.tracef("%s: device revoked", c.name)
	for try := 1; ; try++ {
		_, err = c.s.RunOnce(w.ctx)
		if syncer.IsDeviceRevoked(err) {
			break
		}
		if apiclient.ClassOf(err) == apiclient.ClassUnauthorized && try < maxRevokeTries {
			// A refusal whose body the link damaged reads as a plain 401:
			// the syncer stops as logged out. The next start of casefile
			// asks again, as this new syncer does.
			w.stats.inc("device revocations heard as a plain 401 first", 1)
			w.must(c.name+": close the syncer", c.s.Close())
			w.newSyncer(c)
			continue
		}
		if try == maxRevokeTries || err == nil || !apiclient.IsTransient(err) {
			w.violate("%s: a revoked device's cycle %d ended with %v, not device_revoked", c.name, try, err)
			return
		}
	}
	ops, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox", err)
	// The server refuses every push of a revoked device, even one whose
	// token it last found good (its access memo): nothing queued at the
	// revocation was answered.
	left := map[string]bool{}
	for _, o := range ops {
		left[o.OpID] = true
	}
	for _, o := range queued {
		if !left[o.OpID] {
			w.violate("%s: op %s, queued when the device was revoked, was answered after it", c.name, o.OpID)
		}
	}
	ts, err := c.db.Transfers(w.ctx)
	w.must(c.name+": transfers", err)
	var uploads []string
	for _, t := range ts {
		if t.Direction == localdb.Upload {
			uploads = append(uploads, t.Hash)
		}
	}
	w.must(c.name+": close the syncer", c.s.Close())
	keys := c.keys
	if keys == nil {
		// casefile always has a data key; a plaintext simulated device
		// seals its export with a key of its own.
		keys, err = vault.NewRandom()
		w.must("a key for the export", err)
	}
	files := c.path + ".files"
	res, err := wipe.Revoked(w.ctx, c.db, keys, wipe.Paths{DB: c.path, Files: files, ExportDir: w.dir}, time.Now())
	w.must(c.name+": wipe", err)
	c.dead = append(c.dead, c.db)
	w.checkWipe(c, ops, uploads, keys, res)
	for _, o := range ops {
		w.withdrawn[wkey{c.i, o.RecordID, "*", "", ""}] = w.action()
	}
	w.stats.inc("device revocations: unsent ops exported", res.Unsent)

	// Signed in again: a fresh device with an empty database.
	login, err := servertest.Login(w.ctx, w.srvURL, c.user.name, password, c.name)
	w.must("sign in again after a revocation", err)
	c.token = login.Token
	c.gen++
	c.path = filepath.Join(w.dir, fmt.Sprintf("c%d-%d.db", c.i, c.gen))
	c.cursor, c.resyncSeen = 0, 0
	w.openClient(c)
	w.createMatter(c)
}

// checkWipe checks what a wipe left: no database, an export holding
// exactly the unsent ops, and only the never-uploaded files' bytes.
func (w *world) checkWipe(c *client, ops []localdb.OutboxOp, uploads []string, keys *vault.Keys, res wipe.Result) {
	for _, p := range []string{c.path, c.path + "-wal", c.path + "-shm"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			w.violate("%s: %s is still there after the wipe (%v)", c.name, filepath.Base(p), err)
		}
	}
	plain, err := wipe.ReadExport(keys, res.Export)
	if err != nil {
		w.violate("%s: the export cannot be read: %v", c.name, err)
		return
	}
	var got, want []string
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var o localdb.OutboxOp
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			w.violate("%s: an export line is not an op: %v", c.name, err)
			return
		}
		got = append(got, o.OpID)
	}
	for _, o := range ops {
		want = append(want, o.OpID)
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) || res.Unsent != len(ops) {
		w.violate("%s: the export holds ops %v, the outbox held %v", c.name, got, want)
	}
	left, _ := filepath.Glob(filepath.Join(c.path+".files", "sha256", "*", "*"))
	var kept []string
	for _, p := range left {
		kept = append(kept, filepath.Base(p))
	}
	sort.Strings(kept)
	sort.Strings(uploads)
	uploads = compactStrings(uploads)
	if fmt.Sprint(kept) != fmt.Sprint(uploads) {
		w.violate("%s: after the wipe the file store holds %v, want the never-uploaded %v", c.name, kept, uploads)
	}
	if parts, _ := filepath.Glob(filepath.Join(c.path+".files", "partial", "*")); len(parts) > 0 {
		w.violate("%s: partial downloads left after the wipe: %v", c.name, parts)
	}
}

func compactStrings(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// TestDeviceRevocations runs scenarios in which devices are revoked often:
// each revoked device learns it through its faulty link, wipes keeping
// exactly its unsent ops in a sealed export and its never-uploaded files'
// bytes, signs in again, and every device still converges.
func TestDeviceRevocations(t *testing.T) {
	if raceEnabled {
		t.Skip("make test runs the revocation scenarios in its line without -race")
	}
	st := newStats()
	for _, seed := range []uint64{11, 12} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cfg := sized()
			cfg.writes = min(cfg.writes, 40)
			w := newWorld(t, seed, cfg, st)
			w.revokeOdds = 0.04
			w.run()
			w.report("TestDeviceRevocations")
		})
	}
	if st.n["device revocations"] < 2 {
		t.Fatalf("%d revocations were drawn; the test needs some", st.n["device revocations"])
	}
	if st.n["device revocations: unsent ops exported"] == 0 {
		t.Fatal("no revoked device had unsent ops: the export was never checked with any")
	}
	t.Logf("%d devices revoked, %d unsent ops exported", st.n["device revocations"], st.n["device revocations: unsent ops exported"])
}
