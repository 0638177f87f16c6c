package protocol

// Routes of attached files' bytes. Every one takes ?id=ATTACHMENT_ID, the
// chunk routes also &n=CHUNK (from 0).
const (
	PathFile       = "/v1/file"        // GET: the file's manifest (size, chunk sums)
	PathFileChunk  = "/v1/file/chunk"  // GET: one chunk's bytes; PUT: upload one chunk
	PathFileUpload = "/v1/file/upload" // GET: which chunks the server holds of an upload
)

// HeaderChunkSHA256 carries the lower-case hex SHA-256 of a chunk's bytes,
// sent with an uploaded chunk and answered with a downloaded one.
const HeaderChunkSHA256 = "X-Casefile-Chunk-Sha256"

// Error codes of the file routes.
const (
	CodeNotUploaded   = "not_uploaded"   // 409: the file's bytes have not reached the server yet
	CodeChunkMismatch = "chunk_mismatch" // 422: a chunk's bytes do not match its SHA-256 or its length
	CodeHashMismatch  = "hash_mismatch"  // 422: the chunks together are not the file the record names
	CodeFileTooLarge  = "file_too_large" // 413: the file is over the server's limit per file
	CodeQuotaExceeded = "quota_exceeded" // 507: the file would take the user past their storage quota
)

// FileManifest describes a file ready for download.
type FileManifest struct {
	ID        string   `json:"id"`
	SHA256    string   `json:"sha256"`
	Size      int64    `json:"size"`
	ChunkSize int      `json:"chunk_size"`
	Chunks    []string `json:"chunks"` // the SHA-256 of each chunk, in order
}

// UploadStatus says what the server holds of an upload.
type UploadStatus struct {
	ID        string `json:"id"`
	Size      int64  `json:"size"`
	ChunkSize int    `json:"chunk_size"`
	Have      []int  `json:"have"`     // chunks held, in order
	Complete  bool   `json:"complete"` // the whole file was received and verified
}
