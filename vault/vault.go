// Package vault holds a device's data key: the random 256-bit key that
// encrypts everything sensitive the client keeps on disk, wrapped by a key
// derived from the user's passphrase (argon2id), in a key file beside the
// local database.
//
// The data key never changes for the life of a data directory: changing
// the passphrase re-wraps it and re-encrypts nothing. Values are sealed
// with XChaCha20-Poly1305 (random 192-bit nonces, so no counter to keep),
// each bound by its associated data to its place (table, column, record),
// so a ciphertext moved to another row or column is refused, not
// decrypted.
package vault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Errors callers test with errors.Is; each is one sentence for a person.
var (
	// ErrWrongPassphrase: the passphrase does not unwrap the data key.
	ErrWrongPassphrase = errors.New("the passphrase is wrong; nothing was opened")
	// ErrTampered: a sealed value fails authentication (altered, truncated
	// or moved from another place) and is refused rather than decrypted.
	ErrTampered = errors.New("an encrypted value failed its integrity check (altered or moved); it was not decrypted")
	// ErrNoKey: the data directory has no key file.
	ErrNoKey = errors.New("this data directory has no encryption key")
	// ErrEmptyPassphrase refuses an empty passphrase.
	ErrEmptyPassphrase = errors.New("the passphrase is empty; choose one of at least 8 characters")
	// ErrShortPassphrase refuses a passphrase too short to resist guessing.
	ErrShortPassphrase = errors.New("the passphrase is too short; choose one of at least 8 characters")
	// ErrControlPassphrase refuses a passphrase with a control character
	// (a carriage return or line break, say, from a file read into the
	// environment), which no one could type back at a terminal.
	ErrControlPassphrase = errors.New("the passphrase holds a control character (a line break or carriage return?) that could not be typed back; choose one without")
)

// MinPassphrase is the shortest passphrase accepted for a new key file.
const MinPassphrase = 8

// KeySize is the size of the data key: 256 bits.
const KeySize = chacha20poly1305.KeySize

// sealVersion is the first byte of every sealed value: the format, so a
// later scheme can be told apart from this one.
const sealVersion = 1

// Overhead is what sealing adds to a value: version, nonce and tag.
const Overhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// Keys is an unlocked data key with the ciphers built from it once; it is
// safe for concurrent use.
type Keys struct {
	aead  cipherAEAD
	blind sync.Pool // keyed HMACs of the search index, reset between words
	id    string    // key id: tells which key a database was sealed with

	// tokens remembers the blind tokens of recent words: a practice's
	// records repeat their words (names, "hearing", "the"), and a lookup
	// costs a fraction of an HMAC — which was most of what sealing added
	// to a first sync's CPU. The tokens are no more secret than the key
	// this process holds anyway. Emptied when full.
	tokensMu sync.Mutex
	tokens   map[string]string
}

// Bounds of the blind token cache: entries before it is emptied, and the
// longest word kept (longer ones are rare and would bloat it).
const (
	tokenCacheSize = 1 << 14
	tokenCacheWord = 64
)

// cipherAEAD is the part of cipher.AEAD that Keys uses.
type cipherAEAD interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// Labels separating the keys derived from the data key: the sealing key
// is the data key itself; the search index and the key id each get their
// own HMAC-derived key, so none reveals another.
const (
	labelBlind = "casefile blind index v1"
	labelID    = "casefile key id v1"
)

// newKeys builds the ciphers of a data key.
func newKeys(dataKey []byte) (*Keys, error) {
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("data key: %d bytes, want %d", len(dataKey), KeySize)
	}
	aead, err := chacha20poly1305.NewX(dataKey)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	id := derive(dataKey, labelID)
	k := &Keys{aead: aead, id: hex.EncodeToString(id[:8])}
	blindKey := derive(dataKey, labelBlind)
	// A keyed HMAC is costly to set up and cheap to reset: one per
	// goroutine at a time, kept between words.
	k.blind.New = func() any { return hmac.New(sha256.New, blindKey) }
	return k, nil
}

// derive returns HMAC-SHA256(key, label): a subkey for one purpose.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// NewRandom returns fresh keys from a random data key (a simulated device,
// a test). Keys that must survive a restart come from Create or Unlock.
func NewRandom() (*Keys, error) {
	k, err := randomKey()
	if err != nil {
		return nil, err
	}
	return newKeys(k)
}

func randomKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("random data key: %w", err)
	}
	return k, nil
}

// ID names the data key without revealing anything about it; a database
// records the id of the key that sealed it.
func (k *Keys) ID() string { return k.id }

// Seal encrypts plain bound to ad (its place); the result is version,
// nonce, ciphertext and tag.
func (k *Keys) Seal(plain, ad []byte) []byte {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, Overhead+len(plain))
	out[0] = sealVersion
	// crypto/rand.Read never fails (it panics on a broken system).
	_, _ = rand.Read(out[1:])
	return k.aead.Seal(out, out[1:], plain, ad)
}

// Open decrypts a value sealed for ad, or refuses it with ErrTampered.
func (k *Keys) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != sealVersion {
		return nil, ErrTampered
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	plain, err := k.aead.Open(nil, nonce, sealed[1+chacha20poly1305.NonceSizeX:], ad)
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

// IsSealed reports whether b has the shape of a sealed value (not whether
// it authenticates).
func IsSealed(b []byte) bool { return len(b) >= Overhead && b[0] == sealVersion }

// Blind returns the search token of one normalised word: a keyed hash
// (HMAC-SHA256, 96 bits, hex), equal for equal words under one key and
// meaningless without it.
func (k *Keys) Blind(word string) string {
	if len(word) > tokenCacheWord {
		return k.blindOf(word)
	}
	k.tokensMu.Lock()
	tok, ok := k.tokens[word]
	k.tokensMu.Unlock()
	if ok {
		return tok
	}
	tok = k.blindOf(word)
	k.tokensMu.Lock()
	k.remember(word, tok)
	k.tokensMu.Unlock()
	return tok
}

// remember caches tok as word's token, starting the cache afresh when it
// is full; tokensMu is held. A word may be a slice of a long text: the
// cache keeps a copy, not the text.
func (k *Keys) remember(word, tok string) {
	if k.tokens == nil || len(k.tokens) >= tokenCacheSize {
		k.tokens = make(map[string]string, 1024)
	}
	k.tokens[strings.Clone(word)] = tok
}

// BlindAll returns Blind of each word, looking them up in the cache under
// one lock and storing the new ones under another: a note's fifty-odd
// words took a lock and an unlock each.
func (k *Keys) BlindAll(words []string) []string {
	toks := make([]string, len(words))
	var miss []int
	k.tokensMu.Lock()
	for i, w := range words {
		tok, ok := "", false
		if len(w) <= tokenCacheWord {
			tok, ok = k.tokens[w]
		}
		if !ok {
			miss = append(miss, i)
			continue
		}
		toks[i] = tok
	}
	k.tokensMu.Unlock()
	if len(miss) == 0 {
		return toks
	}
	for _, i := range miss {
		toks[i] = k.blindOf(words[i])
	}
	k.tokensMu.Lock()
	for _, i := range miss {
		if len(words[i]) <= tokenCacheWord {
			k.remember(words[i], toks[i])
		}
	}
	k.tokensMu.Unlock()
	return toks
}

// blindOf computes the token of word.
func (k *Keys) blindOf(word string) string {
	m := k.blind.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(word))
	var sum [sha256.Size]byte
	tok := hex.EncodeToString(m.Sum(sum[:0])[:12])
	k.blind.Put(m)
	return tok
}

// SameKey reports whether two key sets hold the same data key.
func SameKey(a, b *Keys) bool { return subtle.ConstantTimeCompare([]byte(a.id), []byte(b.id)) == 1 }
