// Package store is the sync server's storage contract: the rows the server
// keeps (records, ledger, users, tokens, memberships, audit) and the small
// set of reads and writes the server's rules are built on. sqlitestore and
// pgstore implement it; storetest checks both against the same suite.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// Sentinel errors; implementations map driver errors to them.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
	// ErrTxLost says a write transaction can no longer commit (a savepoint
	// could not be rolled back to, the connection dropped): the caller
	// must give up and let Write roll everything back.
	ErrTxLost = errors.New("write transaction lost")
	// ErrBusy says a transaction gave up waiting for a lock another
	// session held too long (with PostgreSQL, the head's lock: a stuck
	// replica or a person's open transaction). It rolled back whole, so
	// nothing of it happened and it may simply be tried again.
	ErrBusy = errors.New("the database is busy")
	// ErrUnavailable says the database could not be reached: no
	// connection could be made, so nothing was sent to it.
	ErrUnavailable = errors.New("the database cannot be reached")
	// ErrNotCommitted says a write transaction's connection died before
	// its COMMIT was sent (the database restarted, the network reset
	// it): the session's end rolled it back, so nothing of it happened,
	// and a caller whose function may run twice may run it again.
	ErrNotCommitted = errors.New("the write's connection died before it committed")
)

// Store is a server database.
type Store interface {
	// Read runs fn in a read-only snapshot.
	Read(ctx context.Context, fn func(Reader) error) error
	// Write runs fn in a write transaction that holds the change-sequence
	// lock, so writers are serialised and their sequences commit in order.
	// An error from fn rolls everything back. The lock is held until
	// commit, so keep a transaction's work bounded.
	Write(ctx context.Context, fn func(Tx) error) error
	// TouchDevice is Tx.TouchDevice in a write of its own that takes no
	// change-sequence lock: a last-seen time orders nothing and no write
	// reads it, so noting one need not wait for other writes, nor make
	// them wait (every stream's first request notes its device).
	TouchDevice(ctx context.Context, user, device string, at time.Time) error
	// Listen calls fn with the hint of every committed change, from this
	// process and (for stores shared by several servers) from the others,
	// until ctx ends.
	Listen(ctx context.Context, fn func(Hint)) error
	// Describe names the store for people, e.g. "sqlite /srv/server.db".
	Describe() string
	// Close releases the database.
	Close() error
}

// WriteTiming is how one committed write transaction spent its time:
// waiting to begin, which is waiting for the store's write lock (SQLite's
// one writer; PostgreSQL's change-sequence row, which every replica's
// writes take), and then holding it until its commit had ended. Every
// other write waits while one holds it.
type WriteTiming struct {
	Wait, Held time.Duration
}

// WriteTimer is a store that reports the timing of its committed write
// transactions: TimeWrites has fn called once for each, after its commit,
// in place of any fn given before.
type WriteTimer interface {
	TimeWrites(fn func(WriteTiming))
}

// Laned is a store that says how many read transactions of batched small
// reads suit it at once; a store that does not say gets two.
type Laned interface {
	ReadLanes() int
}

// Reader reads the database inside a snapshot or a write transaction.
type Reader interface {
	// Head returns the change sequence and compaction mark.
	Head(ctx context.Context) (Head, error)
	// AccessGen returns the access generation: a count that grows with
	// every change to a token, a device's revocation, a user or a
	// membership, whoever makes it. While it stands still, what Holder
	// and IsMember answered stands too. Asked first in a Read, it may be
	// read just before the snapshot the rest of the Read sees begins
	// (never after), so that a Read asking nothing else needs none.
	AccessGen(ctx context.Context) (int64, error)
	// Record returns a record, tombstones included, or ErrNotFound.
	Record(ctx context.Context, id string) (Record, error)
	// User returns a user or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// Users returns every user, by name.
	Users(ctx context.Context) ([]User, error)
	// Token returns the token with this hash or ErrNotFound; its
	// RevokedAt is its device's revocation time (zero if none).
	Token(ctx context.Context, hash string) (Token, error)
	// Holder returns the token with this hash and its user, as Token and
	// User would, in one read; ErrNotFound when either is missing.
	Holder(ctx context.Context, hash string) (Token, User, error)
	// Devices returns the devices a user has signed in from, by name.
	Devices(ctx context.Context, user string) ([]Device, error)
	// IsMember reports whether the user is a member of the matter.
	IsMember(ctx context.Context, user, matterID string) (bool, error)
	// PreloadMembers says which memberships (users[i] of matterIDs[i]) the
	// snapshot or transaction is about to ask IsMember about, so that a
	// store can read them in bulk; what IsMember answers is the same with
	// or without it.
	PreloadMembers(ctx context.Context, users, matterIDs []string) error
	// Members returns the members of a matter, by name.
	Members(ctx context.Context, matterID string) ([]string, error)
	// MattersOf returns the matters a user is a member of, by id.
	MattersOf(ctx context.Context, user string) ([]string, error)
	// MatterHolds counts the live records (tombstones not) a matter holds,
	// the matter itself not, by collection.
	MatterHolds(ctx context.Context, matterID string) (map[string]int64, error)
	// AuditedVersion returns the version a record reached in the life the
	// audit log shows last for it (its changes since its latest create):
	// the audit log outlives compaction, so this is the version of a
	// tombstone compaction has removed. 0 if the log has no create of it.
	AuditedVersion(ctx context.Context, collection, id string) (int64, error)
	// Grave returns what compaction kept of a tombstone it removed: the
	// collection and matter it was deleted in, and its version. The
	// latest compaction of the id speaks; ErrNotFound if none removed one
	// (or one did before graves were kept).
	Grave(ctx context.Context, id string) (Grave, error)
	// Changes returns records with After < seq <= UpTo visible to the
	// query's user, in seq order, at most Limit of them and no more than
	// MaxBytes allows: what a pull sends, so without FieldVersions and
	// FieldChanges.
	Changes(ctx context.Context, q ChangeQuery) ([]Record, error)
	// CountChanges counts what Changes would return without a limit.
	CountChanges(ctx context.Context, q ChangeQuery) (int64, error)
	// Removals returns the records a client at cursor After may hold and
	// must drop: records now in a matter the user does not see that moved
	// within the query's range and that the user could see at the cursor
	// (they existed then, in a matter the user was a member of) or just
	// before one of those moves (a device keeps its push answers). Never a
	// record the user could not see at any such moment. Membership history
	// comes from the access events, so every membership (a matter's
	// creator's too) must have one.
	Removals(ctx context.Context, q ChangeQuery) ([]Removal, error)
	// DroppedMatters returns matters whose access the user lost within the
	// query's range and has not regained.
	DroppedMatters(ctx context.Context, q ChangeQuery) ([]string, error)
	// Ledger returns the entry of an op id or ErrNotFound.
	Ledger(ctx context.Context, opID string) (LedgerEntry, error)
	// Audit returns audit rows with ID > afterID in order, at most limit.
	Audit(ctx context.Context, afterID int64, limit int) ([]AuditEntry, error)
	// HasAudit reports whether the audit log holds a row of e's action,
	// target, time (to the microsecond), actor, device and after digest:
	// an event that may come to be audited twice (a file's arrival, its
	// row written again by compaction) is written only if not.
	HasAudit(ctx context.Context, e AuditEntry) (bool, error)
	// LoginFailures returns the failed-login count of a key, or a zero
	// count (with the key) when it has none.
	LoginFailures(ctx context.Context, key string) (LoginFailures, error)
}

// Ahead is what a write transaction is about to look up (Tx.Preload).
type Ahead struct {
	OpIDs     []string // in the ledger
	RecordIDs []string // in the records table
	// Users and Matters are memberships: Users[i] of Matters[i].
	Users, Matters []string
}

// Tx is a write transaction.
type Tx interface {
	Reader
	// Preload says which op ids the transaction is about to look up in
	// the ledger, which records it is about to read and which memberships
	// it is about to ask about, so that a store can read them ahead in
	// bulk. What Ledger, Record and IsMember answer is the same with or
	// without it.
	Preload(ctx context.Context, a Ahead) error
	// AccessGenAtStart is AccessGen as the transaction saw it when it
	// began: read with the change-sequence lock where the store takes one
	// by a statement (at no round trip of its own), otherwise by a read
	// of its own. Asked before the transaction writes, it is the
	// generation of every access row the transaction reads, or older;
	// after a write that changes access, it may be behind.
	AccessGenAtStart(ctx context.Context) (int64, error)
	// Savepoint runs fn inside a savepoint of the transaction. If fn
	// fails, everything it wrote, the sequences it took and the hints it
	// queued are undone, fn's error is returned and the transaction goes
	// on as it was before fn; an error wrapping ErrTxLost means it cannot
	// go on at all.
	Savepoint(ctx context.Context, fn func(Tx) error) error
	// NextSeq takes the next change sequence.
	NextSeq(ctx context.Context) (int64, error)
	// PutRecord inserts or replaces a record by id.
	PutRecord(ctx context.Context, r Record) error
	// PutLedger stores an op's result; ErrDuplicate if the op id is taken.
	PutLedger(ctx context.Context, e LedgerEntry) error
	// AddMove notes that a record changed matter at a sequence.
	AddMove(ctx context.Context, m Move) error
	// AddUser creates a user; ErrDuplicate if the name is taken.
	AddUser(ctx context.Context, u User) error
	// PutToken stores a token.
	PutToken(ctx context.Context, t Token) error
	// TouchDevice notes that a user's device was seen at a time, adding
	// the device if new.
	TouchDevice(ctx context.Context, user, device string, at time.Time) error
	// RevokeDevice marks a device revoked at a time, by an admin; false if
	// the user has no such device. Revoking again moves the time forward.
	RevokeDevice(ctx context.Context, user, device string, at time.Time, by string) (bool, error)
	// DeleteTokens deletes a user's tokens (of one device, or all when
	// device is "") and returns how many.
	DeleteTokens(ctx context.Context, user, device string) (int64, error)
	// AddMember makes a user a member of a matter; false if already one.
	AddMember(ctx context.Context, user, matterID string) (bool, error)
	// RemoveMember ends a membership; false if there was none.
	RemoveMember(ctx context.Context, user, matterID string) (bool, error)
	// AddAccessEvent notes a grant or revoke at a sequence.
	AddAccessEvent(ctx context.Context, e AccessEvent) error
	// BumpMatter gives every record of a matter (tombstones included) a new
	// sequence, in their old order, and returns how many it moved and the
	// last sequence taken.
	BumpMatter(ctx context.Context, matterID string) (n, last int64, err error)
	// AppendAudit chains and appends an audit row, filling ID, PrevHash
	// and Hash.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// Compact deletes tombstones, moves, access events and ledger entries
	// older than before and raises the compaction marks past them (the
	// ledger's by sequence: every answer stored at or below the highest
	// sequence of an old one goes).
	Compact(ctx context.Context, before time.Time) (CompactStats, error)
	// PruneLogins deletes the tokens expired at now and then the devices
	// that hold no token, were never revoked and were last seen before
	// idleBefore; it returns how many of each. A revoked device stays:
	// its revocation is what refuses its tokens, and an admin lists it.
	PruneLogins(ctx context.Context, now, idleBefore time.Time) (tokens, devices int64, err error)
	// PutLoginFailures stores a key's failed-login count, replacing the
	// one it had.
	PutLoginFailures(ctx context.Context, f LoginFailures) error
	// DeleteLoginFailures forgets the failed-login counts of keys and
	// returns the counts it deleted, so that the caller can audit the
	// failures they held that no audit row carries yet.
	DeleteLoginFailures(ctx context.Context, keys ...string) ([]LoginFailures, error)
	// UnauditedLoginFailures returns, by key, at most limit counts that
	// hold failures no audit row carries yet (Unaudited > 0) and whose
	// last audit row was written before auditedBefore (or never).
	UnauditedLoginFailures(ctx context.Context, auditedBefore time.Time, limit int) ([]LoginFailures, error)
	// PruneLoginFailures forgets counts whose last failure came before
	// before, whose lock (if any) has ended by then and that hold no
	// failure waiting for its audit row; it returns how many.
	PruneLoginFailures(ctx context.Context, before time.Time) (int64, error)
	// Notify queues a hint, delivered to listeners after commit. Hints of
	// one transaction for the same matter and user are delivered once,
	// with the highest sequence, in sequence order: a hint only says there
	// is news up to its sequence.
	Notify(h Hint)
}

// Head is the change sequence and the compaction mark.
type Head struct {
	Seq              int64 // the last change sequence taken
	CompactedThrough int64 // changes up to here may be gone; older cursors must resync
	// LedgerThrough: ledger answers stored at a sequence below this may be
	// gone, so an unknown op id first sent from a cursor below it may
	// have been applied already (0: no answer was ever compacted).
	LedgerThrough int64
	AuditRows     int64 // rows in the audit log
	AuditHash     string
}

// Record is a record as the server stores it.
type Record struct {
	ID         string
	Collection string
	MatterID   string
	Version    int64
	Seq        int64
	Deleted    bool
	Fields     model.Fields
	// FieldsText is the fields as JSON text, canonical, set instead of
	// Fields (which is then nil) by Changes for a ChangeQuery with Text.
	FieldsText    string
	FieldVersions map[string]int64 // per field, the version at which it last changed
	// FieldChanges says, per field, who changed it last and when; nil or
	// missing fields for records written before it was kept.
	FieldChanges map[string]FieldChange
	CreatedBy    string
	CreatedAt    time.Time
	UpdatedBy    string
	UpdatedAt    time.Time
}

// FieldChange is who changed a field last, and when.
type FieldChange struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// User is an account.
type User struct {
	Name         string
	Role         protocol.Role // admin, member or viewer
	PasswordHash string        // argon2id, encoded with its salt and parameters
	CreatedAt    time.Time
}

// LoginFailures counts the failed logins of one key: a user name or a
// client address. The server decides what the counts mean; the store keeps
// them where every replica sees them.
type LoginFailures struct {
	Key         string
	Failures    int       // failures since WindowStart
	WindowStart time.Time // start of the current counting window
	LastFailure time.Time
	LockedUntil time.Time // zero when not locked
	Lockouts    int       // lockouts in a row, for a growing backoff
	// AuditedAt is when the key's last login_locked audit row was
	// written (zero: none since the count began). Locks are audited at
	// most once an interval; Unaudited counts the failures of the locks
	// since that row which no row carries yet, the first of them at
	// UnauditedSince (zero when Unaudited is 0).
	AuditedAt      time.Time
	Unaudited      int
	UnauditedSince time.Time
}

// Token is a bearer token, kept only as its hash.
type Token struct {
	Hash      string // hex SHA-256 of the token
	User      string
	Device    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RevokedAt is when the token's device was revoked (zero: never). A
	// token made at or before it is refused for good.
	RevokedAt time.Time
}

// Device is a device a user signed in from.
type Device struct {
	User      string
	Name      string
	FirstSeen time.Time
	LastSeen  time.Time
	RevokedAt time.Time // zero when not revoked
	RevokedBy string
}

// LedgerEntry is the stored result of one op id.
type LedgerEntry struct {
	OpID   string
	User   string
	Device string
	At     time.Time
	Result []byte // the protocol.OpResult as JSON
	// Seq is the change sequence when the answer was stored (the store
	// fills it from the head): an op is answered at a head at least as
	// high as any cursor its sender held before sending it.
	Seq int64
}

// Grave is what compaction keeps of a tombstone it removes: enough for a
// restore to know where the record was, and so who must be told it left
// (a move) and who may bring it back.
type Grave struct {
	ID         string
	Collection string
	MatterID   string
	Version    int64
}

// Move notes that a record left a matter.
type Move struct {
	Seq        int64
	RecordID   string
	FromMatter string
	ToMatter   string
	At         time.Time
}

// Access event kinds.
const (
	AccessGrant  = "grant"
	AccessRevoke = "revoke"
)

// AccessEvent is a grant or revoke of a matter to a user.
type AccessEvent struct {
	Seq      int64
	User     string
	MatterID string
	Kind     string
	At       time.Time
}

// ChangeQuery selects a range of changes for one user.
type ChangeQuery struct {
	User  string
	All   bool  // the user sees every matter (an admin)
	After int64 // exclusive
	UpTo  int64 // inclusive
	Limit int   // Changes only; 0 means no limit
	// MaxBytes, Changes only, bounds what a page reads by its records'
	// fields text, as the store holds it: Changes stops after the record
	// that brings the text of those it returns to MaxBytes or more (it
	// returns at least one record when there is one). 0 means no bound.
	MaxBytes int
	// Text asks Changes to leave a record's fields as the store holds
	// them (Record.FieldsText) when that text is what encoding them would
	// write (fieldtext.Canonical), for an answer that passes them on.
	Text bool
}

// Removal is a record to drop because it moved out of the user's sight.
type Removal struct {
	ID       string
	MatterID string // the matter it left
}

// Hint says a change committed: its sequence, its matter, and for access
// changes the user concerned. It carries no record data.
type Hint struct {
	Seq      int64  `json:"seq"`
	MatterID string `json:"matter,omitempty"`
	User     string `json:"user,omitempty"`
	// Origin names the client whose push made a record change, when
	// pushes of one client alone made it (a digest of its token and its
	// protocol.HeaderClient): that client learned the change from its
	// push's answer, so its streams are not poked for it. Empty for
	// access changes, for clients that do not name themselves and for
	// hints that merge several clients' pushes.
	Origin string `json:"origin,omitempty"`
}

// CompactStats counts what Compact removed.
type CompactStats struct {
	Tombstones       int64
	Moves            int64
	AccessEvents     int64
	LedgerEntries    int64
	CompactedThrough int64
	LedgerThrough    int64
	// Tokens and Devices are what Tx.PruneLogins removed, which the
	// server's compaction runs in the same transaction.
	Tokens, Devices int64
}

// AuditEntry is one row of the hash-chained audit log.
type AuditEntry struct {
	ID       int64
	Seq      int64 // the change sequence the action produced, or the head then
	At       time.Time
	Actor    string
	Device   string
	Action   string // create, update, delete, login, login_locked, grant, revoke, user_add, token_revoke, revoke_device, file_uploaded
	Target   string // a record id, a user, "user/matter"
	Before   string // digest of the state before, or ""
	After    string // digest of the state after, or ""
	PrevHash string
	Hash     string
}

// ComputeHash returns the hash that chains e to its predecessor: SHA-256 of
// the previous hash and the row's canonical text.
func (e *AuditEntry) ComputeHash() string {
	var b strings.Builder
	b.WriteString(e.PrevHash)
	for _, s := range []string{
		strconv.FormatInt(e.ID, 10),
		strconv.FormatInt(e.Seq, 10),
		strconv.FormatInt(e.At.UnixMicro(), 10),
		e.Actor, e.Device, e.Action, e.Target, e.Before, e.After,
	} {
		b.WriteByte('\n')
		b.WriteString(strconv.Quote(s))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
