package server_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store/sqlitestore"
)

func status(err error) int {
	var se *servertest.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

func TestLoginAnswer(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) { o.TokenTTL = time.Hour })
	if err := srv.AddUser(context.Background(), "alice", "pw-for-tests", server.RoleViewer); err != nil {
		t.Fatal(err)
	}
	c := &servertest.Client{URL: srv.URL, HTTP: http.DefaultClient}
	var resp struct {
		Token, User, Role, Device string
		ExpiresAt                 time.Time `json:"expires_at"`
	}
	if err := c.Call(context.Background(), "POST", "/v1/login", map[string]string{"user": "alice", "password": "pw-for-tests", "device": "laptop"}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Token) != 43 || resp.Role != string(server.RoleViewer) || resp.Device != "laptop" || !resp.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("login answer = %+v", resp)
	}
}

func TestTokenExpiry(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) { o.TokenTTL = time.Hour })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	if _, err := alice.Pull(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := alice.Pull(context.Background(), 0, 0); status(err) != 401 {
		t.Fatalf("pull with an expired token: %v, want 401", err)
	}
}

func TestRevokeTokens(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	srv.NewUser(t, "alice", server.RoleMember)
	laptop, err := servertest.Login(ctx, srv.URL, "alice", servertest.Password, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := servertest.Login(ctx, srv.URL, "alice", servertest.Password, "phone")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := srv.RevokeTokens(ctx, "alice", "phone"); err != nil || n != 1 {
		t.Fatalf("revoke phone = %d, %v", n, err)
	}
	if _, err := phone.Pull(ctx, 0, 0); status(err) != 401 {
		t.Fatalf("revoked phone: %v, want 401", err)
	}
	if _, err := laptop.Pull(ctx, 0, 0); err != nil {
		t.Fatalf("laptop after revoking the phone: %v", err)
	}
	if n, err := srv.RevokeTokens(ctx, "alice", ""); err != nil || n != 2 {
		t.Fatalf("revoke all = %d, %v; want the laptop's and the test device's", n, err)
	}
	if _, err := laptop.Pull(ctx, 0, 0); status(err) != 401 {
		t.Fatalf("laptop after revoking all: %v, want 401", err)
	}
	if _, err := srv.RevokeTokens(ctx, "nobody", ""); !errors.Is(err, server.ErrNoUser) {
		t.Fatalf("revoke for an unknown user: %v, want ErrNoUser", err)
	}
}

func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t, func(o *server.Options) { o.RateLimit, o.RateBurst = 0.001, 2 })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	for i := range 2 {
		if _, err := alice.Pull(ctx, 0, 0); err != nil {
			t.Fatalf("request %d within the burst: %v", i+1, err)
		}
	}
	_, err := alice.Pull(ctx, 0, 0)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.Code != "rate_limited" {
		t.Fatalf("request past the burst: %v, want 429 rate_limited", err)
	}
	if secs, err := strconv.Atoi(se.RetryAfter); err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q", se.RetryAfter)
	}
	// Another user's token has its own bucket.
	bob := srv.NewUser(t, "bob", server.RoleMember)
	if _, err := bob.Pull(ctx, 0, 0); err != nil {
		t.Fatalf("bob limited by alice's use: %v", err)
	}
}

func TestAddUserRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	if err := srv.AddUser(ctx, "alice", "pw-for-tests", server.RoleMember); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, pw string
		role     protocol.Role
	}{
		{"bob", "", server.RoleMember},
		{"bob", "pw-for-tests", "owner"},
		{"", "pw-for-tests", server.RoleMember},
		{"bob smith", "pw-for-tests", server.RoleMember},
		{"bob\x00", "pw-for-tests", server.RoleMember},
		{"bob", "seven!!", server.RoleMember},               // under the minimum length
		{"bob", "x", server.RoleMember},                     // one character
		{"bob", "Password1", server.RoleMember},             // a common password, whatever its case
		{"bob", "qwertyuiop", server.RoleMember},            // a common password
		{"bobby-tables", "Bobby-Tables", server.RoleMember}, // the user name
	} {
		if err := srv.AddUser(ctx, c.name, c.pw, c.role); !errors.Is(err, server.ErrInvalid) {
			t.Errorf("AddUser(%q, %q, %q) = %v, want ErrInvalid", c.name, c.pw, c.role, err)
		}
	}
	if err := srv.AddUser(ctx, "alice", "another password", server.RoleAdmin); !errors.Is(err, server.ErrUserExists) {
		t.Fatalf("second alice: %v, want ErrUserExists", err)
	}
	if _, err := servertest.Login(ctx, srv.URL, "alice", "another password", "x"); status(err) != 401 {
		t.Fatalf("the refused second alice changed the password: %v", err)
	}
	// Names that read alike: case, accents, full-width forms, letters of
	// another script that print as Latin ones.
	if err := srv.AddUser(ctx, "josé.f", "pw-for-tests", server.RoleMember); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"Alice",
		"\u0430lice",       // Cyrillic а
		"ALIC\u0395",       // Greek Ε
		"\uff41lice",       // full-width ａ
		"ali\u0441e",       // Cyrillic с
		"jose.f",           // without the accent
		"JOS\u00c9.F",      // upper case, accented
		"\u0458os\u0435.f", // Cyrillic ј and е
	} {
		err := srv.AddUser(ctx, name, "pw-for-tests", server.RoleMember)
		if !errors.Is(err, server.ErrUserExists) {
			t.Errorf("AddUser(%+q) = %v, want ErrUserExists", name, err)
		} else if !strings.Contains(err.Error(), "case") && !strings.Contains(err.Error(), "look alike") {
			t.Errorf("AddUser(%+q): %v does not say why", name, err)
		}
	}
	for _, name := range []string{"alicia", "malice", "jose.g", "\u0431ob"} { // б is not b
		if err := srv.AddUser(ctx, name, "pw-for-tests", server.RoleMember); err != nil {
			t.Errorf("AddUser(%+q) = %v, want it added", name, err)
		}
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	for _, c := range []struct {
		name     string
		tamper   []string
		brokenAt int64
	}{
		{"intact", nil, 0},
		{"changed row", []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET actor = 'mallory' WHERE id = 5`}, 5},
		{"relinked row", []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET prev_hash = '' WHERE id = 6`}, 6},
		{"deleted row", []string{`DROP TRIGGER audit_no_delete`, `DELETE FROM audit WHERE id = 7`}, 8},
		{"deleted tail", []string{`DROP TRIGGER audit_no_delete`, `DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)`}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, startSQLite)
			note := w.alice.CreateNote(t, w.m.ID, "Audited")
			w.bob.PushOne(t, servertest.Update(note, map[string]any{"body": "x"}))
			db, err := sql.Open("sqlite", "file:"+filepath.Join(w.srv.Dir, sqlitestore.FileName)+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`UPDATE audit SET target = 'x' WHERE id = 5`); err == nil {
				t.Fatal("the audit log accepted an update")
			}
			var rows int64
			if err := db.QueryRow(`SELECT COUNT(*) FROM audit`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			// Someone with the file in hand can drop the guard; the chain still tells.
			for _, q := range c.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := w.srv.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := c.brokenAt
			if want < 0 {
				want = rows
			}
			if rep.BrokenAt != want || (want == 0) != rep.OK() || rep.Rows < 10 && want == 0 {
				t.Fatalf("verify = %+v, want broken at %d (of %d rows)", rep, want, rows)
			}
		})
	}
}
