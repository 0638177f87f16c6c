package vault

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A sealed file (an export, a temporary file in the data directory) is a
// header line followed by chunks, each sealed on its own and bound to the
// file's name, its index and whether it is the last: chunks cannot be
// reordered, dropped, or the file cut short without Open noticing.

// fileMagic opens every sealed file.
const fileMagic = "casefile-sealed-v1\n"

// chunkSize is the plaintext of one chunk: big enough that the 41-byte
// overhead is noise, small enough to stream.
const chunkSize = 64 << 10

func chunkAD(name string, index uint64, last bool) []byte {
	l := byte(0)
	if last {
		l = 1
	}
	return binary.BigEndian.AppendUint64(append([]byte("file|"+name+"|"), l), index)
}

// SealedWriter encrypts what is written to it into a sealed file; Close
// writes the last chunk and must be called.
type SealedWriter struct {
	k     *Keys
	w     io.Writer
	name  string
	buf   []byte
	index uint64
	err   error
}

// NewWriter starts a sealed file on w bound to name (the name Open must be
// given: a file renamed to pass for another is refused).
func (k *Keys) NewWriter(w io.Writer, name string) (*SealedWriter, error) {
	if _, err := io.WriteString(w, fileMagic); err != nil {
		return nil, err
	}
	return &SealedWriter{k: k, w: w, name: name, buf: make([]byte, 0, chunkSize)}, nil
}

// Write buffers p and seals every full chunk.
func (s *SealedWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && s.err == nil {
		c := copy(s.buf[len(s.buf):cap(s.buf)], p)
		s.buf = s.buf[:len(s.buf)+c]
		p, n = p[c:], n+c
		// A full chunk is written only once more follows, so that the last
		// chunk (sealed by Close) is never empty-handed of its flag.
		if len(s.buf) == cap(s.buf) && len(p) > 0 {
			s.flush(false)
		}
	}
	return n, s.err
}

func (s *SealedWriter) flush(last bool) {
	if s.err != nil {
		return
	}
	sealed := s.k.Seal(s.buf, chunkAD(s.name, s.index, last))
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(sealed))) // #nosec G115 -- a chunk is at most chunkSize+Overhead
	if _, err := s.w.Write(hdr[:]); err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(sealed); err != nil {
		s.err = err
		return
	}
	s.index++
	s.buf = s.buf[:0]
}

// Close seals the last chunk (possibly empty).
func (s *SealedWriter) Close() error {
	s.flush(true)
	return s.err
}

// OpenFile decrypts a whole sealed file written under name, or refuses it
// (ErrTampered) if any part was altered, reordered or cut.
func (k *Keys) OpenFile(r io.Reader, name string) ([]byte, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != fileMagic {
		return nil, errors.New("not a sealed casefile file")
	}
	var out []byte
	for index := uint64(0); ; index++ {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, ErrTampered // cut short before its last chunk
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > chunkSize+Overhead {
			return nil, ErrTampered
		}
		sealed := make([]byte, n)
		if _, err := io.ReadFull(br, sealed); err != nil {
			return nil, ErrTampered
		}
		if plain, err := k.Open(sealed, chunkAD(name, index, false)); err == nil {
			out = append(out, plain...)
			continue
		}
		plain, err := k.Open(sealed, chunkAD(name, index, true))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, ErrTampered)
		}
		out = append(out, plain...)
		if _, err := br.ReadByte(); err != io.EOF {
			return nil, ErrTampered // something after the last chunk
		}
		return out, nil
	}
}
