package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"casefile/protocol"
	"casefile/server/store"
)

// User roles, as protocol.Role names them.
const (
	RoleAdmin  = protocol.RoleAdmin  // sees and writes every matter
	RoleMember = protocol.RoleMember // sees and writes the matters granted to them
	RoleViewer = protocol.RoleViewer // sees the matters granted to them; writes nothing
)

// Errors of the admin operations; test them with errors.Is.
var (
	ErrNoUser     = errors.New("no such user")
	ErrUserExists = errors.New("a user with this name already exists")
	ErrNoMatter   = errors.New("no such matter")
	ErrInvalid    = errors.New("invalid input")
)

// HashParams is the argon2id cost of new password hashes; zero fields take
// the defaults (OWASP's: 19 MiB, 2 passes, 1 thread). Hashes carry their
// parameters, so changing them never locks anyone out.
type HashParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

func (p HashParams) withDefaults() HashParams {
	if p.Time == 0 {
		p.Time = 2
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = 19 * 1024
	}
	if p.Threads == 0 {
		p.Threads = 1
	}
	return p
}

// hashPassword encodes an argon2id hash in the PHC string format.
func hashPassword(password string, p HashParams) string {
	p = p.withDefaults()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// checkPassword reports whether password matches an encoded hash.
func checkPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want))) // #nosec G115 -- 1 to 1024
	return subtle.ConstantTimeCompare(got, want) == 1
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// checkName validates a user or device name: 1 to 64 printable characters
// (user names: letters, digits and . _ - @).
func checkName(what, s string, strict bool) error {
	if s == "" || utf8.RuneCountInString(s) > 64 || !utf8.ValidString(s) {
		return fmt.Errorf("%w: a %s name has 1 to 64 characters", ErrInvalid, what)
	}
	for _, r := range s {
		ok := unicode.IsPrint(r)
		if strict {
			ok = unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)
		}
		if !ok {
			if strict {
				return fmt.Errorf("%w: a %s name uses letters, digits and . _ - @ only", ErrInvalid, what)
			}
			return fmt.Errorf("%w: a %s name cannot hold control characters", ErrInvalid, what)
		}
	}
	return nil
}

// AddUser creates a user with a role (admin, member or viewer).
func (s *Server) AddUser(ctx context.Context, name, password string, role protocol.Role) error {
	if err := checkName("user", name, true); err != nil {
		return err
	}
	if !role.Valid() {
		return fmt.Errorf("%w: unknown role %q (roles: admin, member, viewer)", ErrInvalid, role)
	}
	if err := checkNewPassword(name, password); err != nil {
		return err
	}
	hash := hashPassword(password, s.opts.Password)
	now := s.now()
	err := s.st.Write(ctx, func(tx store.Tx) error {
		// Names that differ only in case, accents or a look-alike letter
		// of another script would show alike in lists and the audit log,
		// and one could pass for the other: the first holds the name.
		users, err := tx.Users(ctx)
		if err != nil {
			return err
		}
		skeleton := nameSkeleton(name)
		for _, u := range users {
			switch {
			case u.Name == name:
			case strings.EqualFold(u.Name, name):
				return fmt.Errorf("%w: %s (as %s; names differing only in case cannot both be used)", ErrUserExists, name, u.Name)
			case nameSkeleton(u.Name) == skeleton:
				// Quoted in ASCII, so the message shows how they differ.
				return fmt.Errorf("%w: %s reads as %s, who exists (names that look alike cannot both be used)", ErrUserExists, strconv.QuoteToASCII(name), strconv.QuoteToASCII(u.Name))
			}
		}
		if err := tx.AddUser(ctx, store.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: now}); err != nil {
			return err
		}
		return s.audit(ctx, tx, &store.AuditEntry{At: now, Actor: operator, Action: "user_add", Target: name, After: digest(role)})
	})
	if errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("%w: %s", ErrUserExists, name)
	}
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	return nil
}

// User is an account as admins see it.
type User struct {
	Name      string
	Role      protocol.Role
	CreatedAt time.Time
}

// Users returns every user, by name.
func (s *Server) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.st.Read(ctx, func(r store.Reader) error {
		users, err := r.Users(ctx)
		for _, u := range users {
			out = append(out, User{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// RevokeTokens revokes a user's tokens: those of one device, or all of them
// when device is "". It returns how many it revoked.
func (s *Server) RevokeTokens(ctx context.Context, user, device string) (int, error) {
	var n int64
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.User(ctx, user); err != nil {
			return err
		}
		var err error
		if n, err = tx.DeleteTokens(ctx, user, device); err != nil {
			return err
		}
		target := user
		if device != "" {
			target += "/" + device
		}
		return s.audit(ctx, tx, &store.AuditEntry{At: s.now(), Actor: operator, Action: "token_revoke", Target: target,
			After: fmt.Sprintf("%d revoked", n)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	if err != nil {
		return 0, fmt.Errorf("revoke tokens: %w", err)
	}
	return int(n), nil
}

// principal is who makes an authenticated request.
type principal struct {
	user, device, tokenHash string
	role                    protocol.Role
	// origin names the running client (protocol.HeaderClient) under its
	// token, as a digest of both; "" when it does not say.
	origin string
	// unconfirmed: the holder was taken from the access memo, as it was
	// at access generation gen, without a read; the push's write
	// transaction confirms it (confirmHolders) before it applies
	// anything of the push.
	unconfirmed bool
	gen         int64
}

// originOf names a client under a token: a digest, so that hints (which
// PostgreSQL replicas pass to each other) carry neither.
func originOf(tokenHash, client string) string {
	sum := sha256.Sum256([]byte(tokenHash + "\x00" + client))
	return hex.EncodeToString(sum[:16])
}

// validClient checks a protocol.HeaderClient value.
func validClient(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (p *principal) admin() bool { return p.role == RoleAdmin }

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req protocol.LoginRequest
	if ae := decodeBody(w, r, &req); ae != nil {
		s.writeError(w, r, ae)
		return
	}
	if req.Device == "" {
		req.Device = "unnamed device"
	}
	if err := checkName("device", req.Device, false); err != nil {
		s.writeError(w, r, errBadRequest("The device name must have 1 to 64 printable characters."))
		return
	}
	// A name no account can have is refused before any hashing: the
	// naming rules are public, so answering faster tells nothing.
	if checkName("user", req.User, true) != nil || len(req.Password) > maxPasswordBytes {
		s.refuseLogin(w, r, refusedMalformed, errBadLogin)
		return
	}
	addr := clientAddr(r)
	// Counted as under way before the counts are read, uncounted after
	// a failure is written: each guess is always in one of the two.
	under := s.loginsUnderWay.begin(userKey(req.User), addr)
	defer s.loginsUnderWay.end(userKey(req.User), addr)
	counts, err := s.readLoginCounts(r.Context(), req.User, addr)
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	if wait := counts.lockedFor(s.now()); wait > 0 {
		s.refuseLogin(w, r, refusedLocked, errLoginLocked(wait))
		return
	}
	if counts.tooMany(under[0], under[1]) {
		// Not a failure of anyone's: too many checks under way at once
		// for what the limit has left. Behind one address (a firm's NAT)
		// people signing in together see "busy", and try again.
		s.refuseLogin(w, r, refusedBusy, errLoginBusy)
		return
	}
	if !s.logins.acquire(r.Context()) {
		s.refuseLogin(w, r, refusedBusy, errLoginBusy)
		return
	}
	u, ok, err := s.checkLogin(r.Context(), req.User, req.Password)
	s.logins.release()
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	if !ok {
		s.log.Info("login refused", "user", req.User, "device", req.Device, "addr", addr)
		if err := s.countFailure(r.Context(), req.User, addr, req.Device); err != nil {
			s.writeError(w, r, errInternal(err))
			return
		}
		s.refuseLogin(w, r, refusedCredentials, errBadLogin)
		return
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	t := store.Token{Hash: hashToken(token), User: u.Name, Device: req.Device, CreatedAt: now, ExpiresAt: now.Add(s.opts.TokenTTL)}
	var lockRows []*store.AuditEntry
	err = s.st.Write(r.Context(), func(tx store.Tx) error {
		lockRows = lockRows[:0]
		if err := tx.PutToken(r.Context(), t); err != nil {
			return err
		}
		if err := tx.TouchDevice(r.Context(), u.Name, req.Device, now); err != nil {
			return err
		}
		// A success clears the name's count and the address's: the
		// real user, once in, does not carry an attacker's failures.
		// Locks the audit log was not yet told of are written now, or
		// they would go with the counts.
		if !clean(counts.name) || !clean(counts.addr) {
			gone, err := tx.DeleteLoginFailures(r.Context(), userKey(u.Name), addr)
			if err != nil {
				return err
			}
			for _, f := range gone {
				e, err := s.auditLocksOf(r.Context(), tx, f, now)
				if err != nil {
					return err
				}
				if e != nil {
					lockRows = append(lockRows, e)
				}
			}
		}
		return s.audit(r.Context(), tx, &store.AuditEntry{At: now, Actor: u.Name, Device: req.Device, Action: "login", Target: u.Name})
	})
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	s.logLocks(lockRows)
	s.log.Info("login", "user", u.Name, "device", req.Device)
	writeJSON(w, http.StatusOK, protocol.LoginResponse{Token: token, User: u.Name, Role: u.Role, Device: req.Device, ExpiresAt: t.ExpiresAt.UTC()})
}

// checkLogin checks a password against the user's hash, or against a
// dummy hash for an unknown user so that timing tells nothing; ok is
// false for both wrong passwords and unknown users.
func (s *Server) checkLogin(ctx context.Context, name, password string) (u store.User, ok bool, err error) {
	err = s.st.Read(ctx, func(rd store.Reader) (err error) {
		u, err = rd.User(ctx, name)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		checkPassword(s.dummy(), password)
		return u, false, nil
	case err != nil:
		return u, false, err
	}
	return u, checkPassword(u.PasswordHash, password), nil
}

// authed wraps a handler with bearer authentication and the per-token rate
// limit.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return s.authedBy(s.authenticate, h)
}

// authedInWrite is authed for a handler whose write transaction confirms
// the token's holder (handlePush): a holder the access memo knows is
// taken from it without a read (authenticateFromMemo).
func (s *Server) authedInWrite(h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return s.authedBy(s.authenticateFromMemo, h)
}

func (s *Server) authedBy(authenticate func(*http.Request) (*principal, *apiError), h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ae := authenticate(r)
		if ae != nil {
			s.refuse(w, r, ae)
			return
		}
		if u := r.Header.Get(protocol.HeaderUser); u != "" && u != p.user {
			s.refuse(w, r, errWrongUser)
			return
		}
		if ae := s.limits.allow(p.tokenHash); ae != nil {
			s.writeError(w, r, ae)
			return
		}
		if c, named := r.Header[protocol.HeaderClient]; named {
			if len(c) != 1 || !validClient(c[0]) {
				s.writeError(w, r, errBadRequest("%s must be 1 to 64 letters, digits, '-' or '_'.", protocol.HeaderClient))
				return
			}
			p.origin = originOf(p.tokenHash, c[0])
		}
		s.noteSeen(r.Context(), p)
		h(w, r, p)
	}
}

// refuse answers a request whose token did not stand (or could not be
// read) with ae, asking for a bearer token.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, ae *apiError) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="casefile"`)
	s.writeError(w, r, ae)
}

var errWrongUser = &apiError{status: http.StatusUnauthorized, code: protocol.CodeWrongUser,
	msg: "This token belongs to another user than the one this device is signed in as; sign in again."}

// handleWhoami says whose the request's token is, so a client can check
// that its credentials are what they say.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request, p *principal) {
	var t store.Token
	err := s.st.Read(r.Context(), func(rd store.Reader) (err error) {
		t, err = rd.Token(r.Context(), p.tokenHash)
		return err
	})
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.WhoamiResponse{User: p.user, Role: p.role, Device: p.device, ExpiresAt: t.ExpiresAt.UTC()})
}

func (s *Server) authenticate(r *http.Request) (*principal, *apiError) {
	hash, ae := bearerHash(r)
	if ae != nil {
		return nil, ae
	}
	return s.readPrincipal(r.Context(), hash)
}

// authenticateFromMemo is authenticate for a request whose write
// transaction confirms the holder: when the access memo holds the
// token's holder, the principal is taken from it unconfirmed, and the
// request's read batch (with PostgreSQL, a round trip and a statement
// of its own; most of a busy replica's statements were those) is left
// out. The write transaction reads the access generation with the lock
// it takes anyway and reads the holder again only when the generation
// has moved since the memo's (confirmHolders), so a revocation committed
// before the push's transaction began refuses it, as it did when read
// before.
func (s *Server) authenticateFromMemo(r *http.Request) (*principal, *apiError) {
	hash, ae := bearerHash(r)
	if ae != nil {
		return nil, ae
	}
	hd, gen, ok := s.reads.memo.holderAt(hash)
	if !ok {
		return s.readPrincipal(r.Context(), hash)
	}
	p, err := s.principalFrom(hd.tok, hd.user, hash)
	if err != nil {
		return nil, principalError(err)
	}
	p.unconfirmed, p.gen = true, gen
	return p, nil
}

// bearerHash returns the hash of the request's bearer token.
func bearerHash(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 256 {
		return "", errUnauthorized
	}
	return hashToken(strings.TrimSpace(token)), nil
}

// readPrincipal reads who holds the token with this hash in the next read
// batch.
func (s *Server) readPrincipal(ctx context.Context, hash string) (*principal, *apiError) {
	var p *principal
	err := s.reads.read(ctx, func(ctx context.Context, rd store.Reader) (err error) {
		p, err = s.principalOf(ctx, rd, hash)
		return err
	})
	if err != nil {
		return nil, principalError(err)
	}
	return p, nil
}

// principalError is the answer to a request whose token principalOf
// refused, or could not read.
func principalError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUnauthorized
	case errors.Is(err, errRevokedDevice):
		return errDeviceRevoked
	}
	return errInternal(err)
}

// principalOf returns who holds the token with this hash now, or
// ErrNotFound when it is unknown, revoked or expired. Every request asks,
// and open event streams ask again on each heartbeat and poke, so a
// revocation or a role change reaches them too.
func (s *Server) principalOf(ctx context.Context, rd store.Reader, hash string) (*principal, error) {
	t, u, err := rd.Holder(ctx, hash)
	if err != nil {
		return nil, err
	}
	return s.principalFrom(t, u, hash)
}

// principalFrom is principalOf given the token's holder.
func (s *Server) principalFrom(t store.Token, u store.User, hash string) (*principal, error) {
	// Revoked before expired: a lost laptop that comes back after its
	// login expired must still hear that it was revoked, so that it
	// wipes itself; "sign in again" would leave its copy whole.
	if revokedToken(t) {
		return nil, errRevokedDevice
	}
	if !s.now().Before(t.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return &principal{user: u.Name, role: u.Role, device: t.Device, tokenHash: hash}, nil
}
