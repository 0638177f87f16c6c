package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

// holderReads counts the token holders a server reads outside its write
// transactions (its read batches).
type holderReads struct {
	store.Store
	n atomic.Int64
}

type holderReadsReader struct {
	store.Reader
	n *atomic.Int64
}

func (h *holderReads) Read(ctx context.Context, fn func(store.Reader) error) error {
	return h.Store.Read(ctx, func(rd store.Reader) error { return fn(holderReadsReader{rd, &h.n}) })
}

func (r holderReadsReader) Holder(ctx context.Context, hash string) (store.Token, store.User, error) {
	r.n.Add(1)
	return r.Reader.Holder(ctx, hash)
}

// refusedWith checks that a push of ops was refused with code and wrote
// nothing.
func refusedWith(t *testing.T, srv *servertest.Server, c *servertest.Client, code protocol.Code, ops ...model.Op) {
	t.Helper()
	ctx := context.Background()
	head, err := srv.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Push(ctx, ops...)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != 401 || se.Code != code {
		t.Fatalf("push of %d ops after the change: %v, want 401 %s", len(ops), err, code)
	}
	if after, err := srv.Head(ctx); err != nil || after != head {
		t.Fatalf("head %d after the refused push (%v), want %d: it wrote something", after, err, head)
	}
}

// TestPushConfirmsItsHolderInItsWrite: a push takes its token's holder
// from the server's access memo, without a read of its own, and its
// write transaction confirms it with the access generation it reads with
// its lock. A change to the token, its device or its user's role made
// after the memo last read them (by this server, another process on the
// database, or another replica) is seen by the next push, which writes
// nothing when the token no longer stands, and applies with the new role
// when it does.
func TestPushConfirmsItsHolderInItsWrite(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, srv *servertest.Server)
		code   protocol.Code // "" when the push goes through
	}{
		{"device revoked", func(t *testing.T, srv *servertest.Server) {
			if err := srv.RevokeDevice(ctx, "alice", "test"); err != nil {
				t.Fatal(err)
			}
		}, protocol.CodeDeviceRevoked},
		{"tokens revoked", func(t *testing.T, srv *servertest.Server) {
			if _, err := srv.RevokeTokens(ctx, "alice", ""); err != nil {
				t.Fatal(err)
			}
		}, protocol.CodeUnauthorized},
		{"made a viewer by another process", func(t *testing.T, srv *servertest.Server) {
			setRoleInDatabase(t, srv, "alice", server.RoleViewer)
		}, ""},
	}
	for _, tc := range cases {
		for _, empty := range []bool{false, true} {
			name := tc.name
			if empty {
				if tc.code == "" {
					continue
				}
				// A push of no ops takes no lock: it reads its token.
				name += ", a push of no ops"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				sq, err := sqlitestore.Open(ctx, filepath.Join(dir, sqlitestore.FileName))
				if err != nil {
					t.Fatal(err)
				}
				st := &holderReads{Store: sq}
				srv := servertest.Start(t, noHeartbeat, func(o *server.Options) { o.Store = st })
				srv.Dir = dir
				alice := srv.NewUser(t, "alice", server.RoleMember)
				m := alice.CreateMatter(t, "Memo") // reads alice's holder into the memo
				before := st.n.Load()
				alice.CreateNote(t, m.ID, "From the memo")
				if n := st.n.Load() - before; n != 0 {
					t.Fatalf("a push whose holder the memo held read it %d times outside its write", n)
				}
				tc.change(t, srv)
				switch {
				case empty:
					refusedWith(t, srv, alice, tc.code)
				case tc.code != "":
					refusedWith(t, srv, alice, tc.code, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "After the change"}))
				default:
					res := alice.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "As a viewer"}))
					if res.Result != model.ResultRejected {
						t.Fatalf("a viewer's note: %s %s, want rejected (the push applied with the role the memo held)", res.Result, res.Code)
					}
				}
			})
		}
	}
}

// TestPushConfirmsItsHolderAcrossReplicas: a device revoked through one
// replica refuses the next push through the other, whose memo held the
// token as good.
func TestPushConfirmsItsHolderAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	pg := func(o *server.Options) { o.DatabaseURL = url }
	a := servertest.Start(t, pg, noHeartbeat)
	b := servertest.Start(t, pg, noHeartbeat)
	alice := a.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Replicated")
	alice.CreateNote(t, m.ID, "Through A")
	if err := b.RevokeDevice(ctx, "alice", "test"); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, a, alice, protocol.CodeDeviceRevoked, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "After the revocation"}))
}
