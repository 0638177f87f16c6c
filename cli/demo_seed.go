package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/assets/demo"
	"casefile/config"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/syncer"
	"casefile/transfer"
	"casefile/vault"
)

// The demo's people. Both are members; each sees the matters granted to them.
var demoUsers = []struct{ name, password string }{
	{"alice", "alice-demo"},
	{"bob", "bob-demo"},
}

func demoPassword(user string) string {
	for _, u := range demoUsers {
		if u.name == user {
			return u.password
		}
	}
	return ""
}

// demoSeed is the shape of assets/demo/seed.json.
type demoSeed struct {
	Matters []struct {
		Key     string       `json:"key"`
		Shared  bool         `json:"shared"` // bob is granted access too
		Fields  model.Fields `json:"fields"`
		Records []struct {
			Key        string       `json:"key"`
			Collection string       `json:"collection"`
			Fields     model.Fields `json:"fields"`
		} `json:"records"`
	} `json:"matters"`
	// Conflict names the record and field that alice and bob both change.
	Conflict struct {
		Record string `json:"record"`
		Field  string `json:"field"`
		Bob    string `json:"bob"`
		Alice  string `json:"alice"`
	} `json:"conflict"`
}

func loadDemoSeed() (demoSeed, error) {
	var s demoSeed
	dec := json.NewDecoder(bytes.NewReader(demo.Seed))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("demo data: %w", err)
	}
	return s, nil
}

// expandDates turns "@date+N" into the day N days from today and
// "@datetime+N HH:MM" into that moment, so the demo's deadlines and
// hearings always lie around the day it is run.
func expandDates(f model.Fields, today time.Time) (model.Fields, error) {
	out := make(model.Fields, len(f))
	for k, v := range f {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "@date") {
			out[k] = v
			continue
		}
		rest, isTime := strings.CutPrefix(s, "@datetime")
		if !isTime {
			rest = strings.TrimPrefix(s, "@date")
		}
		days, clock, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(days)
		if err != nil {
			return nil, fmt.Errorf("demo data: %s: bad date %q", k, s)
		}
		day := today.AddDate(0, 0, n)
		if !isTime {
			out[k] = day.Format(time.DateOnly)
			continue
		}
		t, err := time.ParseInLocation("2006-01-02 15:04", day.Format(time.DateOnly)+" "+clock, time.Local)
		if err != nil {
			return nil, fmt.Errorf("demo data: %s: bad date and time %q", k, s)
		}
		out[k] = t.Format(time.RFC3339)
	}
	return out, nil
}

// demoLogin logs user in to the demo server and saves the credentials in
// the user's data directory, as `casefile login` would.
func demoLogin(ctx context.Context, base, user, dataDir string) (config.Credentials, error) {
	c, err := apiclient.NewClient(base, "", nil)
	if err != nil {
		return config.Credentials{}, err
	}
	device := "demo-" + user
	resp, err := c.Login(ctx, protocol.LoginRequest{User: user, Password: demoPassword(user), Device: device})
	if err != nil {
		return config.Credentials{}, fmt.Errorf("log in as %s: %w", user, err)
	}
	creds := config.Credentials{Server: base, User: resp.User, Device: device, Token: resp.Token, ExpiresAt: resp.ExpiresAt}
	if err := config.SaveCredentials(dataDir, creds); err != nil {
		return config.Credentials{}, err
	}
	return creds, nil
}

// syncOnce runs one full sync cycle of a client database.
func syncOnce(ctx context.Context, db *localdb.DB, creds config.Credentials) (syncer.Summary, error) {
	s := syncer.New(db, syncer.Options{Server: creds.Server, User: creds.User, Token: creds.Token, Device: creds.Device})
	defer s.Close()
	sum, err := s.RunOnce(ctx)
	if err != nil {
		return sum, fmt.Errorf("sync as %s: %w", creds.User, err)
	}
	if sum.Failed > 0 || sum.Conflicts > 0 || sum.Retrying > 0 {
		return sum, fmt.Errorf("sync as %s: %d failed, %d conflicts, %d retrying", creds.User, sum.Failed, sum.Conflicts, sum.Retrying)
	}
	return sum, nil
}

// seedDemo creates the users and the data, all through the real API: alice
// writes everything in her client and syncs it, bob is granted the shared
// matters and pulls them, then bob changes the conflict note on the server
// while alice's own change of the same field waits in her outbox. Her UI
// meets the conflict on its first sync.
func seedDemo(ctx context.Context, srv *server.Server, base string, dirs demoDirs, schema *model.Schema) error {
	seed, err := loadDemoSeed()
	if err != nil {
		return err
	}
	for _, u := range demoUsers {
		if err := srv.AddUser(ctx, u.name, u.password, server.RoleMember); err != nil && !errors.Is(err, server.ErrUserExists) {
			return fmt.Errorf("add demo user %s: %w", u.name, err)
		}
	}
	alice, err := demoLogin(ctx, base, "alice", dirs.client("alice"))
	if err != nil {
		return err
	}
	adb, err := openDemoDB(ctx, dirs.client("alice"), schema)
	if err != nil {
		return err
	}
	defer adb.Close()
	today := time.Now()
	keys := map[string]string{} // seed key → record id
	var shared []string
	firstShared := "" // the first document of a shared matter gets a file
	for _, m := range seed.Matters {
		f, err := expandDates(m.Fields, today)
		if err != nil {
			return err
		}
		rec, err := adb.Create(ctx, model.MatterCollection, "", f)
		if err != nil {
			return fmt.Errorf("demo matter %s: %w", m.Key, err)
		}
		if m.Shared {
			shared = append(shared, rec.ID)
		}
		for _, r := range m.Records {
			f, err := expandDates(r.Fields, today)
			if err != nil {
				return err
			}
			f[model.MatterField] = rec.ID
			child, err := adb.Create(ctx, r.Collection, "", f)
			if err != nil {
				return fmt.Errorf("demo %s in %s: %w", r.Collection, m.Key, err)
			}
			if r.Key != "" {
				keys[r.Key] = child.ID
			}
			if m.Shared && firstShared == "" && r.Collection == "document" {
				firstShared = child.ID
			}
		}
	}
	if len(firstShared) > 0 {
		if err := demoAttach(ctx, adb, dirs.client("alice"), firstShared); err != nil {
			return err
		}
	}
	if _, err := syncOnce(ctx, adb, alice); err != nil {
		return err
	}
	if err := demoUpload(ctx, adb, dirs.client("alice"), alice); err != nil {
		return err
	}
	for _, id := range shared {
		if err := srv.Grant(ctx, "bob", id); err != nil {
			return fmt.Errorf("grant bob a demo matter: %w", err)
		}
	}
	bob, err := demoLogin(ctx, base, "bob", dirs.client("bob"))
	if err != nil {
		return err
	}
	bdb, err := openDemoDB(ctx, dirs.client("bob"), schema)
	if err != nil {
		return err
	}
	defer bdb.Close()
	if _, err := syncOnce(ctx, bdb, bob); err != nil {
		return err
	}
	noteID, ok := keys[seed.Conflict.Record]
	if !ok {
		return fmt.Errorf("demo data: no record %q for the conflict", seed.Conflict.Record)
	}
	if _, err := bdb.Update(ctx, noteID, model.Fields{seed.Conflict.Field: seed.Conflict.Bob}); err != nil {
		return fmt.Errorf("bob's demo edit: %w", err)
	}
	if _, err := syncOnce(ctx, bdb, bob); err != nil {
		return err
	}
	// Alice changed the same field while offline: saved, not yet sent.
	if _, err := adb.Update(ctx, noteID, model.Fields{seed.Conflict.Field: seed.Conflict.Alice}); err != nil {
		return fmt.Errorf("alice's demo edit: %w", err)
	}
	return os.WriteFile(dirs.marker(), []byte(today.Format(time.RFC3339)+"\n"), 0o600)
}

// demoLetter is the demo's attached file.
const demoLetter = `Dear Ms Smith,

Please find enclosed the statement of claim as filed this morning.
The hearing is listed for the first available date after 28 days.

Yours sincerely,
Alice
`

// demoAttach attaches the demo letter to a record in alice's client.
func demoAttach(ctx context.Context, db *localdb.DB, dataDir, recordID string) error {
	files, err := openDemoFiles(dataDir)
	if err != nil {
		return err
	}
	hash, size, err := files.Import(strings.NewReader(demoLetter))
	if err != nil {
		return err
	}
	_, err = db.Attach(ctx, recordID, model.Attachment{Name: "letter-to-client.txt", Size: size, SHA256: hash, MediaType: "text/plain; charset=utf-8"})
	if err != nil {
		return fmt.Errorf("demo attachment: %w", err)
	}
	return nil
}

// demoUpload sends the bytes of alice's attached files.
func demoUpload(ctx context.Context, db *localdb.DB, dataDir string, creds config.Credentials) error {
	files, err := openDemoFiles(dataDir)
	if err != nil {
		return err
	}
	api, err := apiclient.NewClient(creds.Server, creds.Token, nil, apiclient.WithUser(creds.User))
	if err != nil {
		return err
	}
	sum, err := transfer.New(db, files, api, transfer.Options{}).RunOnce(ctx)
	if err == nil && sum.Uploaded == 0 {
		err = fmt.Errorf("%+v", sum)
	}
	if err != nil {
		return fmt.Errorf("demo upload: %w", err)
	}
	return nil
}

// demoDirs lays out the demo directory.
type demoDirs string

func (d demoDirs) server() string            { return filepath.Join(string(d), "server") }
func (d demoDirs) client(user string) string { return filepath.Join(string(d), user) }
func (d demoDirs) marker() string            { return filepath.Join(string(d), "seeded") }

// seeded reports whether the demo data is already in place.
func (d demoDirs) seeded() bool {
	_, err := os.Stat(d.marker())
	return err == nil
}

// reset removes what the demo made in the directory, and nothing else.
func (d demoDirs) reset() error {
	for _, p := range []string{d.marker(), d.server(), d.client("alice"), d.client("bob")} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("reset the demo: %w", err)
		}
	}
	return nil
}

// openDemoDB opens a demo user's database, encrypted with a key stored
// beside it: the demo never asks for a passphrase.
// openDemoFiles opens a demo client's file store with its generated key.
func openDemoFiles(dir string) (*localfiles.Dir, error) {
	keys, err := vault.Unlock(dir, nil)
	if err != nil {
		return nil, err
	}
	return openFileStore(dir, keys)
}

func openDemoDB(ctx context.Context, dir string, schema *model.Schema) (*localdb.DB, error) {
	if err := ensureGeneratedKey(dir); err != nil {
		return nil, err
	}
	return openSealed(ctx, &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" },
		storedKeyMeant: true, startDB: true}, dir, schema)
}
