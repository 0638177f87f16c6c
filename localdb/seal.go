package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"casefile/model"
)

// Sealer encrypts values at rest and makes the blind tokens of the search
// index; *vault.Keys is one. Seal binds a value to its place (ad): Open
// with another place fails.
type Sealer interface {
	Seal(plain, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
	Blind(word string) string
	ID() string
}

// Errors of an encrypted database; callers test them with errors.Is.
var (
	// ErrLocked: the database is encrypted and was opened without its key.
	ErrLocked = errors.New("the local database is encrypted; unlock it with its passphrase")
	// ErrWrongKey: the key given is not the one the database was sealed with.
	ErrWrongKey = errors.New("the local database was encrypted with another key than this data directory's")
	// ErrPlaintext: a key was given for a database that holds plaintext; it
	// must be converted first (Convert).
	ErrPlaintext = errors.New("the local database is not encrypted yet; it must be converted")
	// ErrUnsealed: a value that should be encrypted is not, or fails its
	// integrity check (altered, or moved from another row).
	ErrUnsealed = errors.New("a value in the local database failed its integrity check (altered or moved); run casefile doctor")
)

// metaKeyID is the meta key holding the id of the key that seals this
// database; absent in a plaintext database.
const metaKeyID = "key_id"

// Option changes how Open opens a database.
type Option func(*options)

// WithSealer opens an encrypted database (or makes a new, empty one
// encrypted) with s; without it Open refuses an encrypted database.
func WithSealer(s Sealer) Option { return func(o *options) { o.sealer = s } }

// Encrypted reports whether values are sealed at rest.
func (db *DB) Encrypted() bool { return db.sealer != nil }

// checkSealing holds the database to its key: an encrypted database opens
// only with the key that sealed it; a new, empty one opened with a key
// becomes encrypted; a plaintext one with data is refused (ErrPlaintext)
// and must be converted.
func (db *DB) checkSealing(ctx context.Context, s Sealer) error {
	id, err := getMeta(ctx, db.w, metaKeyID)
	if err != nil {
		return err
	}
	switch {
	case id != "" && s == nil:
		return ErrLocked
	case id == "" && s == nil:
		return nil
	case id != "" && id != s.ID():
		return ErrWrongKey
	case id != "":
		db.sealer = s
		openSealers.Store(s.ID(), s)
		return nil
	}
	var n int
	if err := db.w.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM outbox)
		+ (SELECT count(*) FROM journal) + (SELECT count(*) FROM conflicts)`).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return ErrPlaintext
	}
	db.sealer = s
	openSealers.Store(s.ID(), s)
	return db.tx(ctx, func(tx *sql.Tx) error { return setMeta(ctx, tx, metaKeyID, s.ID()) })
}

// place names where a sealed value lives: its table and column and the
// row's identity. A value moved to another place fails to open.
func place(table, column string, ids ...string) []byte {
	n := len(table) + 1 + len(column)
	for _, id := range ids {
		n += 1 + len(id)
	}
	b := make([]byte, 0, n)
	b = append(b, table...)
	b = append(b, '|')
	b = append(b, column...)
	for _, id := range ids {
		b = append(b, '|')
		b = append(b, id...)
	}
	return b
}

// sealText stores text at ad: sealed (a BLOB) in an encrypted database,
// as is otherwise.
func (db *DB) sealText(text string, ad []byte) any {
	if db.sealer == nil {
		return text
	}
	return db.sealer.Seal([]byte(text), ad)
}

// sealNullable is sealText for a value that may be SQL NULL (nil stays NULL).
func (db *DB) sealNullable(v any, ad []byte) any {
	if v == nil {
		return nil
	}
	return db.sealText(v.(string), ad)
}

// openText reads what sealText stored at ad. In an encrypted database a
// value that is not sealed, or fails to open, is refused: plaintext slipped
// into the file is no more trusted than a tampered ciphertext.
func (db *DB) openText(stored sql.NullString, ad []byte) (sql.NullString, error) {
	if db.sealer == nil || !stored.Valid {
		return stored, nil
	}
	plain, err := db.sealer.Open([]byte(stored.String), ad)
	if err != nil {
		return stored, fmt.Errorf("%s: %w", ad[:strings.IndexByte(string(ad), '|')], ErrUnsealed)
	}
	return sql.NullString{String: string(plain), Valid: true}, nil
}

// openString is openText for a NOT NULL column.
func (db *DB) openString(stored string, ad []byte) (string, error) {
	s, err := db.openText(sql.NullString{String: stored, Valid: true}, ad)
	return s.String, err
}

// Places of the sealed columns.
func recordPlace(column, collection, id string) []byte {
	return place("records", column, collection, id)
}

func gonePlace(collection, id string) []byte {
	return place("gone_records", "fields", collection, id)
}

func opPlace(column string, o *opRow) []byte {
	return place("outbox", column, o.Collection, o.RecordID, o.OpID)
}

func conflictPlace(column string, c *model.Conflict) []byte {
	return place("conflicts", column, c.Collection, c.RecordID, c.OpID)
}

func journalPlace(column string, e *JournalEntry, at int64) []byte {
	return place("journal", column, e.Collection, e.RecordID, e.OpID, string(e.Kind), fmt.Sprint(at))
}

// searchBody is what the full-text index holds for text: the text itself
// in a plaintext database; in an encrypted one, the blind token of each
// distinct normalised word (a keyed hash), in the order the words first
// come, so the index matches whole words without holding any.
func (db *DB) searchBody(text string) string {
	if db.sealer == nil || text == "" {
		return text
	}
	words := distinctWords(searchWords(text))
	var toks []string
	if all, ok := db.sealer.(blindsAll); ok {
		toks = all.BlindAll(words)
	} else {
		toks = make([]string, len(words))
		for i, w := range words {
			toks[i] = db.sealer.Blind(w)
		}
	}
	return strings.Join(toks, " ")
}

// blindsAll is a Sealer that blinds many words at once (*vault.Keys):
// a first sync blinds some fifty words a note.
type blindsAll interface {
	BlindAll(words []string) []string
}

// distinctWords keeps the first of each word, in order, in words' own
// array. The set is an open-addressed table of FNV-1a hashes, on the stack
// for a note's words (a Go map per call, even reused, was a fifth of
// preparing a pulled note). The hash is kept in an int: its arithmetic
// wraps, and masking with size-1 always gives a slot.
func distinctWords(words []string) []string {
	if len(words) < 2 {
		return words
	}
	var small [256]int
	size := 1
	for size < 2*len(words) {
		size <<= 1
	}
	mask := size - 1
	var slots []int
	if size <= len(small) {
		slots = small[:size]
	} else {
		slots = make([]int, size)
	}
	// A slot holds 1 + the place in out of its word; 0 is empty.
	out := words[:0] // out never passes the word being read
	for _, w := range words {
		h := 2166136261
		for i := 0; i < len(w); i++ {
			h = (h ^ int(w[i])) * 16777619
		}
		for j := h & mask; ; j = (j + 1) & mask {
			s := slots[j]
			if s == 0 {
				out = append(out, w)
				slots[j] = len(out)
				break
			}
			if out[s-1] == w {
				break
			}
		}
	}
	return out
}

// searchMatch is the FTS5 query for text a person typed: every word as a
// prefix in a plaintext database, every word whole (its blind token) in an
// encrypted one. "" when the text holds no word.
func (db *DB) searchMatch(text string) string {
	if db.sealer == nil {
		return ftsQuery(text)
	}
	words := searchWords(text)
	if len(words) > maxQueryWords {
		words = words[:maxQueryWords]
	}
	q := make([]string, len(words))
	for i, w := range words {
		// A token is hex: quoting is for symmetry with ftsQuery, never needed.
		q[i] = `"` + db.sealer.Blind(w) + `"`
	}
	return strings.Join(q, " ")
}

// maxQueryWords bounds the words of one search.
const maxQueryWords = 16

// searchWords splits text into words the way the plaintext index's
// tokenizer does (unicode61, remove_diacritics 2): letters and digits,
// lower-cased, accents removed.
func searchWords(text string) []string {
	// One pass over the bytes: ASCII letters and digits (nearly every
	// word of a practice's records) are cut and lower-cased without
	// decoding runes; a word with any other character goes through
	// foldWord. This was most of the CPU sealing added to a first sync.
	// Words average some six bytes with their separator.
	out := make([]string, 0, len(text)/6+1)
	start, ascii, upper := -1, true, false
	end := func(i int) {
		if start < 0 {
			return
		}
		w := text[start:i]
		switch {
		case !ascii:
			if f := foldWord(w); f != "" {
				out = append(out, f)
			}
		case upper:
			out = append(out, strings.ToLower(w))
		default:
			out = append(out, w)
		}
		start, ascii, upper = -1, true, false
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			isLower, isUpper := c >= 'a' && c <= 'z' || c >= '0' && c <= '9', c >= 'A' && c <= 'Z'
			if !isLower && !isUpper {
				end(i)
			} else if start < 0 {
				start = i
			}
			upper = upper || isUpper
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) {
			if start < 0 {
				start = i
			}
			ascii = false
		} else {
			end(i)
		}
		i += n
	}
	end(len(text))
	return out
}

// foldWord lower-cases a word and takes its accents off, as the plaintext
// index's tokenizer does; "" when nothing is left.
func foldWord(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(w) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
