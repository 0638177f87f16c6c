package model

import "fmt"

// AttachmentCollection is the collection whose records describe files
// attached to other records; the bytes travel apart, chunk by chunk.
const AttachmentCollection = "attachment"

// The fields of an attachment record.
const (
	AttachRecordField = "record_id"  // the record the file is attached to
	AttachNameField   = "name"       // the file's name, without directories
	AttachSizeField   = "size"       // bytes
	AttachTypeField   = "media_type" // e.g. application/pdf
	AttachHashField   = "sha256"     // lower-case hex SHA-256 of the bytes
)

// ChunkSize is the unit in which file bytes travel and are verified. 1 MiB:
// on a 1 MB/s hotspot a cut costs at most about a second of resending, the
// per-chunk request (headers and a round trip) is under 0.1 % of it, a
// 100 MB file is a hundred chunks whose list fits one small answer, and a
// chunk is a comfortable PostgreSQL row.
const ChunkSize = 1 << 20

// ChunkCount is the number of chunks of a file of size bytes (at least
// one: an empty file is one empty chunk, so it too is uploaded and proven).
func ChunkCount(size int64) int {
	if size <= 0 {
		return 1
	}
	return int((size + ChunkSize - 1) / ChunkSize)
}

// ChunkLen is the length of chunk n of a file of size bytes, or -1 when
// the file has no chunk n.
func ChunkLen(size int64, n int) int {
	if n < 0 || n >= ChunkCount(size) {
		return -1
	}
	return int(min(int64(ChunkSize), size-int64(n)*ChunkSize))
}

// ValidSHA256 reports whether s is a lower-case hex SHA-256 digest.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Attachment is what an attachment record says about its file.
type Attachment struct {
	ID        string // the attachment record's id, the file's id for people
	MatterID  string
	RecordID  string
	Name      string
	Size      int64
	MediaType string
	SHA256    string
}

// AttachmentOf reads an attachment record's fields; an error names the
// first field that does not describe a file.
func AttachmentOf(id string, f Fields) (Attachment, error) {
	a := Attachment{ID: id}
	a.MatterID, _ = f[MatterField].(string)
	a.RecordID, _ = f[AttachRecordField].(string)
	a.Name, _ = f[AttachNameField].(string)
	a.MediaType, _ = f[AttachTypeField].(string)
	a.SHA256, _ = f[AttachHashField].(string)
	size, ok := f[AttachSizeField].(float64)
	switch {
	case !ok || size < 0 || size != float64(int64(size)):
		return a, fmt.Errorf("the attachment's size is not a whole number of bytes")
	case !ValidSHA256(a.SHA256):
		return a, fmt.Errorf("the attachment's sha256 is not a SHA-256 digest")
	case !ValidID(a.RecordID):
		return a, fmt.Errorf("the attachment's record_id is not a record id")
	}
	a.Size = int64(size)
	return a, nil
}

// Fields returns the attachment as record fields.
func (a Attachment) Fields() Fields {
	f := Fields{
		MatterField:       a.MatterID,
		AttachRecordField: a.RecordID,
		AttachNameField:   a.Name,
		AttachSizeField:   float64(a.Size),
		AttachHashField:   a.SHA256,
	}
	if a.MediaType != "" {
		f[AttachTypeField] = a.MediaType
	}
	return f
}
