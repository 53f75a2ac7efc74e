package artifact

import (
	"context"
	"io"
	"path"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Info describes one entry of a listing: a file, or a directory (a common prefix).
type Info struct {
	Path    string    // slash-separated, relative to the store root
	IsDir   bool      // true for a directory / common prefix
	Size    int64     // bytes; 0 for directories
	ModTime time.Time // zero when the backend does not say
}

// Store is a tree of artifact files addressed by slash-separated relative paths.
// Every path is validated first by ValidatePath: "..", absolute paths,
// backslashes, NUL bytes and the reserved top-level ".cairn" are rejected with
// errs.Invalid.
type Store interface {
	// Put streams r into the file at path, replacing it; if r fails, the old
	// file stays. Errors: Invalid, TooLarge, Unavailable, Internal.
	Put(ctx context.Context, path string, r io.Reader) error
	// Get opens the file at path for streaming. Errors: Invalid, NotFound, Unavailable.
	Get(ctx context.Context, path string) (io.ReadCloser, Info, error)
	// List returns the direct children of dir ("" is the root), sorted by path;
	// an absent dir lists as empty. Errors: Invalid, Unavailable.
	List(ctx context.Context, dir string) ([]Info, error)
	// Delete removes the file at path, or everything under it when it is a
	// directory. Deleting nothing is not an error; deleting the root ("") is
	// Invalid. Errors: Invalid, Unavailable.
	Delete(ctx context.Context, path string) error
	// URI returns the store's root URI, e.g. "file:///data/artifacts" or "s3://b/p".
	URI() string
}

// Part identifies one uploaded part of a multipart upload.
type Part struct {
	Number int    // 1-based
	ETag   string // as returned by UploadPart
}

// Multipart is implemented by stores that accept a large file in parts, uploaded
// in any order and joined by CompleteMultipart. Both backends implement it.
type Multipart interface {
	// CreateMultipart starts an upload to path and returns its ID.
	// Errors: Invalid, Unavailable.
	CreateMultipart(ctx context.Context, path string) (uploadID string, err error)
	// UploadPart streams one part (number 1 to 10000); uploading a number again
	// replaces that part. Errors: Invalid, NotFound (unknown upload), TooLarge, Unavailable.
	UploadPart(ctx context.Context, path, uploadID string, number int, r io.Reader) (etag string, err error)
	// CompleteMultipart joins the parts, in part-number order whatever the order
	// of the list, into the file at path, replacing it. Errors: Invalid (no
	// parts, a duplicate number, a part not uploaded or an ETag that does not
	// match), NotFound (unknown upload), Unavailable.
	CompleteMultipart(ctx context.Context, path, uploadID string, parts []Part) error
	// AbortMultipart discards an upload and its parts. Errors: Invalid,
	// NotFound (unknown upload), Unavailable.
	AbortMultipart(ctx context.Context, path, uploadID string) error
}

// Sweeper is implemented by stores that keep private temporary files: the
// local backend's partial uploads and multipart staging folders, which a
// crash or a client that never completes leaves behind.
type Sweeper interface {
	// Sweep removes the temporary files and uploads untouched for longer
	// than maxAge and returns how many it removed. Errors: Unavailable.
	Sweep(ctx context.Context, maxAge time.Duration) (int, error)
}

// Resolver maps an artifact location (mlflow-artifacts:, file://, s3://) to
// the store that serves it and the location's path in that store.
// Errors: Invalid (not a clean location), PermissionDenied (outside every
// store the server serves).
type Resolver interface {
	Resolve(uri string) (Store, string, error)
}

// Reserved is the top-level name the local backend keeps its temporary files
// and multipart staging under. It is rejected on every backend so that a tree
// of artifacts means the same on all of them.
const Reserved = ".cairn"

// ValidatePath checks an artifact path and returns it cleaned: relative,
// slash-separated, with no "." or empty segments and no trailing slash. The
// root is "" ("." and "./" clean to it). It rejects with errs.Invalid a path that is absolute, holds a
// ".." segment, a backslash or a NUL byte, or starts with the reserved ".cairn".
func ValidatePath(p string) (string, error) {
	const want = "expected a relative slash-separated path under the artifact root"
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return "", errs.Invalidf("artifact path %q contains a NUL byte; %s", p, want)
	case strings.Contains(p, `\`):
		return "", errs.Invalidf("artifact path %q contains a backslash; %s", p, want)
	case strings.HasPrefix(p, "/"):
		return "", errs.Invalidf("artifact path %q is absolute; %s", p, want)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return "", errs.Invalidf("artifact path %q contains \"..\"; %s", p, want)
		}
	}
	clean := path.Clean(p)
	if clean == "." {
		return "", nil
	}
	if first, _, _ := strings.Cut(clean, "/"); first == Reserved {
		return "", errs.Invalidf("artifact path %q is under the reserved %q; %s", p, Reserved, want)
	}
	return clean, nil
}

// Scheme returns the lowercased scheme of uri, or "" when it has none (a
// plain path).
func Scheme(uri string) string {
	s, _ := uriScheme(uri)
	return s
}

// uriScheme returns the lowercased scheme of uri, if it has one.
func uriScheme(uri string) (string, bool) {
	i := strings.IndexByte(uri, ':')
	if i <= 0 {
		return "", false
	}
	for j, c := range uri[:i] {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return strings.ToLower(uri[:i]), true
}
