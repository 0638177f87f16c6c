// Package protocol holds the wire format of Casefile's sync API (/v1): the
// requests and responses the server answers and the syncer sends, and the
// stable error codes. docs/protocol.md describes it for people.
package protocol

import (
	"time"

	"casefile/model"
)

// Routes of the /v1 API.
const (
	PathLogin  = "/v1/login"
	PathPush   = "/v1/push"
	PathPull   = "/v1/pull"
	PathEvents = "/v1/events"
	PathHealth = "/healthz"
	PathWhoami = "/v1/whoami"
)

// HeaderUser names the user a client believes its token belongs to (the
// user of its credentials). When sent, the server refuses a token of any
// other user with 401 wrong_user: a token copied into another user's data
// directory must not act as its owner while the client shows someone else.
const HeaderUser = "Casefile-User"

// HeaderClient names the running client a push or an event stream comes
// from: a random value a client picks when it starts (1 to 64 letters,
// digits, '-' or '_'). The streams a client holds under a token are not
// poked for the record changes of its own pushes under that token, which
// its push's answers told it. A client that does not send it is poked
// for everything, as before.
const HeaderClient = "Casefile-Client"

// WhoamiResponse says whose a token is.
type WhoamiResponse struct {
	User      string    `json:"user"`
	Role      Role      `json:"role"`
	Device    string    `json:"device"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Limits the server enforces and clients respect.
const (
	MaxOpsPerPush   = 500      // ops in one push
	MaxBodyBytes    = 16 << 20 // bytes in one request body
	DefaultPullPage = 500      // records in one pull page when the client names no limit
	MaxPullPage     = 5000     // records in one pull page at most
	// MaxAnswerBytes bounds the results of one push's answer (each
	// result's JSON as the server encodes it in full, lean or not): the
	// request bound, so that an answer is never much larger than the
	// largest request, plus AnswerAllowancePerOp for each op. A batch
	// whose results would pass it is refused with 413
	// CodeAnswerTooLarge and nothing of it is applied; a batch of one op
	// never is.
	MaxAnswerBytes = MaxBodyBytes + MaxOpsPerPush*AnswerAllowancePerOp
	// AnswerAllowancePerOp is room for what a result carries beyond its
	// op's fields: the record's ids, version, sequence, who and when (some
	// 300 bytes with user names of 64 characters). A batch of creates
	// that fits in a request therefore always fits in its answer.
	AnswerAllowancePerOp = 1 << 10
)

// LoginRequest asks for a token for one device.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Device   string `json:"device"` // a name the user knows the device by
}

// LoginResponse carries the bearer token; only its hash is kept by the server.
type LoginResponse struct {
	Token     string    `json:"token"`
	User      string    `json:"user"`
	Role      Role      `json:"role"`
	Device    string    `json:"device"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PushRequest is a batch of ops from one device, applied in order.
type PushRequest struct {
	Ops []model.Op `json:"ops"`
}

// PushResponse has one result per op, in the order of the request.
type PushResponse struct {
	Results []OpResult `json:"results"`
	Head    int64      `json:"head"` // the server's change sequence after the batch
	// Cursor answers a push that sent HeaderCursor: when nothing but this
	// batch changed after that cursor, it is the head, and the results
	// carry every change up to it, so the client may take it as its pull
	// cursor with them instead of pulling its own writes back. Zero (left
	// out) otherwise, and always for a push without the header.
	Cursor int64 `json:"cursor,omitempty"`
	// Prior is the head before the batch: every change in (Prior, Head]
	// is this batch's, and the results carry each one. A client whose pull
	// cursor stands at Prior when it applies the results may take Head as
	// its cursor with them, whatever cursor it named when it sent the
	// batch; so it may send the next batch before it has applied this
	// one's answers (docs/protocol.md, "Pipelined pushes"). Left out by
	// servers older than it.
	Prior *int64 `json:"prior,omitempty"`
}

// HeaderCursor, on a push, carries the client's pull cursor (a decimal);
// see PushResponse.Cursor. Servers that do not know it ignore it.
const HeaderCursor = "Casefile-Cursor"

// OpResult is what the server did with one op.
type OpResult struct {
	OpID   string         `json:"op_id"`
	Result model.OpResult `json:"result"`
	// Record is the server's record after the op (applied, merged) or as it
	// stands (conflict; nil for a record the user may not see).
	Record *Record `json:"record,omitempty"`
	// FieldsSent answers a push that asked for lean answers
	// (HeaderPushAnswer): the record's fields are exactly the op's, as it
	// sent them, and the answer leaves them out (Record.Fields is nil).
	FieldsSent     bool     `json:"fields_sent,omitempty"`
	ConflictFields []string `json:"conflict_fields,omitempty"` // conflict: the overlapping fields
	Dropped        []string `json:"dropped,omitempty"`         // merged: edits that lost to server-wins
	Code           Code     `json:"code,omitempty"`            // rejected: a stable error code
	Message        string   `json:"message,omitempty"`         // rejected or conflict: a sentence for people
	// ChangedBy and ChangedAt, on a conflict, name who made the server's
	// change the op met and when: the last change of the conflicting
	// fields. Older servers leave them out; a client then takes the
	// record's UpdatedBy and UpdatedAt.
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	// Problems: rejected for its fields (validation, schema_mismatch):
	// each field at fault, with what is wrong, for an editor to mark.
	Problems []model.Problem `json:"problems,omitempty"`
}

// HeaderPushAnswer, on a push, asks for lean answers (PushAnswerLean):
// a result whose record holds exactly the fields its op sent leaves them
// out and says so (OpResult.FieldsSent), since the client holds them
// already. Servers older than it ignore the header and answer in full.
const HeaderPushAnswer = "Casefile-Push-Answer"

// PushAnswerLean is the value of HeaderPushAnswer that asks for lean answers.
const PushAnswerLean = "lean"

// HeaderAnswerBytes, on every answer to a push (a refusal too), gives the
// bound the server holds that push's results to, in bytes of JSON
// (MaxAnswerBytes unless the server says less). A client sizes its next
// batches by it; one that reads no such header (a server older than it)
// assumes MaxAnswerBytes.
const HeaderAnswerBytes = "Casefile-Answer-Bytes"

// HeaderSchema carries a schema fingerprint (model.Schema.Fingerprint):
// the client's on its requests, the server's on its answers. A header, not
// a body key or a parameter, so that servers older than it ignore it
// rather than refuse the request; a client that sends none is answered as
// before.
const HeaderSchema = "Casefile-Schema"

// Record is a record as the server holds it.
type Record struct {
	ID         string       `json:"id"`
	Collection string       `json:"collection"`
	MatterID   string       `json:"matter_id"`
	Version    int64        `json:"version"` // counts the record's changes, from 1
	Seq        int64        `json:"seq"`     // the change sequence of its last change
	Deleted    bool         `json:"deleted,omitempty"`
	Fields     model.Fields `json:"fields"`
	CreatedBy  string       `json:"created_by"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedBy  string       `json:"updated_by"`
	UpdatedAt  time.Time    `json:"updated_at"`
}

// PullMark is the pull parameter of the later pages of a full pull (one
// that began at cursor 0 and reads everything the user may see, to replace
// what the client holds): the compaction mark its first page reported.
// While the mark has not moved, such a page may pass a cursor below it —
// nothing changed since the pull began was compacted, and the client drops
// whatever the whole pull did not show. Once it has moved, a change the
// pull has not reached yet may be gone, and the page answers 410.
const PullMark = "mark"

// PullResponse is one page of changes after the request's cursor, in change
// sequence order, limited to what the user may see.
type PullResponse struct {
	Records []Record `json:"records"` // changed records, tombstones included
	// Removed are records the user may no longer see because they moved to a
	// matter the user has no access to: drop them locally.
	Removed []Removal `json:"removed,omitempty"`
	// DroppedMatters lost the user's access: drop all their records locally.
	DroppedMatters []string `json:"dropped_matters,omitempty"`
	Cursor         int64    `json:"cursor"` // pass it to the next pull
	More           bool     `json:"more"`   // another page is ready now
	Head           int64    `json:"head"`   // the server's change sequence now
	// CompactedThrough is the compaction mark now: a pull from a cursor
	// below it must be a full pull that began under this very mark.
	CompactedThrough int64 `json:"compacted_through"`
	// Total estimates how many records remain from the request's cursor to
	// Head, for progress bars.
	Total int64 `json:"total"`
}

// HeaderPullNext, on a pull's answer that has more pages, carries the next
// page's request before its body: "CURSOR MARK", the answer's cursor and
// compaction mark as decimals, equal to its body's cursor and
// compacted_through. A client may ask for the next page as soon as the
// headers come, while this page's body is still read and decoded
// (docs/protocol.md, "Pulls ahead"). Servers older than it leave it out;
// clients older than it ignore it.
const HeaderPullNext = "Casefile-Pull-Next"

// ContentTypePullPacked is the media type of a pull page in its packed
// form (docs/protocol.md, "Packed pages"): the same page as the JSON one
// in about two thirds of the bytes. A client that reads it names it in
// its pull's Accept header; a server that writes it answers with it as
// the Content-Type. Servers older than it answer JSON, whatever the
// Accept; clients older than it never ask.
const ContentTypePullPacked = "application/vnd.casefile.pull-packed.v1"

// Removal names a record to drop locally.
type Removal struct {
	ID       string `json:"id"`
	MatterID string `json:"matter_id"`
}

// Poke is the data of a server-sent "poke" event: news up to Seq. It
// carries no record data; the client pulls.
type Poke struct {
	Seq int64 `json:"seq"`
	// Resync says the Last-Event-ID the client sent is beyond this
	// server's head (a server restored from a backup, or another
	// server): the client's cursor may be too, and its next pull then
	// answers 410 cursor_too_old and it pulls again from 0.
	Resync bool `json:"resync,omitempty"`
}

// Event names of the realtime stream.
const (
	EventPoke   = "poke"
	EventClosed = "closed" // the server ends the stream; its data is an Error saying why
)

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// Error is a stable code and a sentence for people.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Role is what a user may do: see and write every matter, or only the
// matters granted to them, or only see those.
type Role string

// The roles.
const (
	RoleAdmin  Role = "admin"  // sees and writes every matter
	RoleMember Role = "member" // sees and writes the matters granted to them
	RoleViewer Role = "viewer" // sees the matters granted to them; writes nothing
)

// Roles lists every role, for validation and help texts.
var Roles = []Role{RoleAdmin, RoleMember, RoleViewer}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleMember, RoleViewer:
		return true
	}
	return false
}

// Code is a stable error code: the server's, in HTTP errors and rejected
// op results, and the client's own for ops it keeps as failed.
type Code string

// Stable error codes, in HTTP errors and in rejected op results.
const (
	CodeUnauthorized Code = "unauthorized"   // 401: no, bad, expired or revoked token; bad login
	CodeForbidden    Code = "forbidden"      // 403: the role may not do this (a viewer writing)
	CodeNotFound     Code = "not_found"      // 404 or rejected op: no such thing, or one the user may not see
	CodeBadRequest   Code = "bad_request"    // 400: malformed JSON, parameters or ids
	CodeValidation   Code = "validation"     // rejected op: fields break the schema
	CodeIDConflict   Code = "id_conflict"    // rejected op: create with an id that is taken
	CodeTooLarge     Code = "too_large"      // 413: body over MaxBodyBytes
	CodeTooManyOps   Code = "too_many_ops"   // 400: more than MaxOpsPerPush ops
	CodeRateLimited  Code = "rate_limited"   // 429, with Retry-After
	CodeCursorTooOld Code = "cursor_too_old" // 410: compacted past the cursor; resync from 0
	CodeReadOnly     Code = "read_only"      // rejected op: a viewer cannot write
	// CodeAnswerTooLarge: 413, a push whose results would pass
	// MaxAnswerBytes (updates or deletes of large records); nothing of it
	// was applied. Send fewer ops at a time: one op alone is never
	// refused for it.
	CodeAnswerTooLarge Code = "answer_too_large"
	// CodeMatterNotEmpty: rejected op, the delete of a matter that still
	// holds records (a client deletes them first, in the same push).
	CodeMatterNotEmpty Code = "matter_not_empty"
	// CodeOutcomeUnknown: rejected op, resent after the server compacted
	// the answers it might have been given; it may have been applied.
	CodeOutcomeUnknown Code = "outcome_unknown"
	CodeInternal       Code = "internal"    // 500
	CodeUnavailable    Code = "unavailable" // 503: shutting down or overloaded
	CodeMethod         Code = "method_not_allowed"
	// CodeTooManyStreams closes an event stream when the same token or
	// user opens more than the server allows; the oldest goes first.
	CodeTooManyStreams Code = "too_many_streams"
	// CodeSchemaMismatch: rejected op whose fields break the server's
	// schema, sent by a client whose schema fingerprint differs: the
	// message says what differs, Problems names the fields.
	CodeSchemaMismatch Code = "schema_mismatch"
	// CodeWrongUser: 401, the token belongs to another user than the
	// request's HeaderUser names.
	CodeWrongUser Code = "wrong_user"
	// CodeDeviceRevoked: 401, an admin revoked this device (lost or
	// stolen). Its token never works again; the device must delete its
	// copy of the server's data, keeping its unsent changes sealed.
	CodeDeviceRevoked Code = "device_revoked"
)

// Codes the client gives ops it keeps as failed; the server never sends
// them. Their messages say what the user can do with the op.
const (
	// CodeAccessRevoked: the user lost access to the op's matter.
	CodeAccessRevoked Code = "access_revoked"
	// CodeGone: a full resync no longer showed the op's record (deleted
	// on the server, or out of the user's sight, while the device was
	// away longer than the server keeps history).
	CodeGone Code = "gone"
	// CodeOrphaned: doctor found the op's record missing on this device.
	CodeOrphaned Code = "orphaned"
)

// HealthResponse is the answer of GET /healthz.
type HealthResponse struct {
	Status string `json:"status"`         // "ok"
	Head   int64  `json:"head,omitempty"` // the server's change sequence now, for a request with a valid token
}
