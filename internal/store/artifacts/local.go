package artifacts

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// The local backend's private tree, hidden from List and unreachable through
// ValidatePath: Put and CompleteMultipart write a file under tmpDir and rename
// it into place; an upload's parts live in stagingDir/<uploadID>/<number>,
// next to a file "target" holding the destination path.
const (
	tmpDir     = reserved + "/tmp"
	stagingDir = reserved + "/multipart"
	targetFile = "target"
)

// localStore keeps artifacts in a folder. All access goes through an os.Root,
// so not even a symbolic link inside the folder can lead outside it. A file
// appears whole or not at all: it is written under tmpDir, synced and renamed
// into place, which needs tmpDir and the artifacts on one file system (a
// mount point inside the folder would break Put with EXDEV).
type localStore struct {
	root *os.Root
	uri  string
}

var (
	_ Multipart = (*localStore)(nil)
	_ Sweeper   = (*localStore)(nil)
)

// openLocal opens the folder dir, an absolute path, creating it if missing.
func openLocal(dir string) (*localStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create artifact folder: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open artifact folder: %w", err)
	}
	if err := root.MkdirAll(tmpDir, 0o755); err != nil {
		root.Close()
		return nil, fmt.Errorf("create artifact temp folder: %w", err)
	}
	uri := &url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}
	return &localStore{root: root, uri: uri.String()}, nil
}

// URI implements Store.
func (s *localStore) URI() string { return s.uri }

// Put implements Store.
func (s *localStore) Put(ctx context.Context, p string, r io.Reader) error {
	p, err := validateFile(p)
	if err != nil {
		return fmt.Errorf("put artifact: %w", err)
	}
	tmp, err := s.writeTemp(func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx, r})
		return err
	})
	if err == nil {
		err = s.commit(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("put artifact %q: %w", p, rootErr(p, err))
	}
	return nil
}

// writeTemp fills a new file under tmpDir with write, syncs it and returns its
// name. On failure nothing is left.
func (s *localStore) writeTemp(write func(io.Writer) error) (string, error) {
	name := tmpDir + "/" + rand.Text()
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed the temp folder under us; make it again.
		if err = s.root.MkdirAll(tmpDir, 0o755); err == nil {
			f, err = s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
	}
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.root.Remove(name)
		return "", err
	}
	return name, nil
}

// commit renames the temporary file tmp to p, creating p's parent folders,
// and removes tmp if that fails.
func (s *localStore) commit(tmp, p string) error {
	var err error
	for range 3 {
		if dir := path.Dir(p); dir != "." {
			if err = s.root.MkdirAll(dir, 0o755); err != nil {
				break
			}
		}
		// ErrNotExist means a concurrent Delete pruned the parent just made.
		if err = s.root.Rename(tmp, p); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err == nil {
		return nil
	}
	s.root.Remove(tmp)
	switch {
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.ENOTEMPTY):
		return errs.Invalidf("artifact path %q is a directory; expected a file path", p)
	case errors.Is(err, syscall.ENOTDIR):
		return errs.Invalidf("a parent of artifact path %q is a file; expected directories", p)
	}
	return err
}

// Get implements Store.
func (s *localStore) Get(ctx context.Context, p string) (io.ReadCloser, Info, error) {
	p, err := validateFile(p)
	if err != nil {
		return nil, Info{}, fmt.Errorf("get artifact: %w", err)
	}
	f, err := s.root.Open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, Info{}, fmt.Errorf("get artifact: %w", errs.NotFoundf("artifact %q not found", p))
		}
		return nil, Info{}, fmt.Errorf("get artifact %q: %w", p, rootErr(p, err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("get artifact %q: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, Info{}, fmt.Errorf("get artifact: %w", errs.NotFoundf("artifact %q is a directory, not a file", p))
	}
	return f, Info{Path: p, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Store. It shows folders and regular files, nothing else.
func (s *localStore) List(ctx context.Context, dir string) ([]Info, error) {
	dir, err := artifact.ValidatePath(dir)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	name := dir
	if name == "" {
		name = "."
	}
	f, err := s.root.Open(name)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list artifacts in %q: %w", dir, rootErr(dir, err))
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if isNotExist(err) {
		return nil, nil // dir is a file
	}
	if err != nil {
		return nil, fmt.Errorf("list artifacts in %q: %w", dir, err)
	}
	infos := make([]Info, 0, len(entries))
	for _, e := range entries {
		if dir == "" && e.Name() == reserved {
			continue
		}
		fi, err := e.Info()
		if isNotExist(err) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("list artifacts in %q: %w", dir, err)
		}
		switch {
		case fi.IsDir():
			infos = append(infos, Info{Path: join(dir, e.Name()), IsDir: true, ModTime: fi.ModTime()})
		case fi.Mode().IsRegular():
			infos = append(infos, Info{Path: join(dir, e.Name()), Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Path, b.Path) })
	return infos, nil
}

// Delete implements Store. It also removes the folders the deletion leaves
// empty, as S3 has no empty folders either.
func (s *localStore) Delete(ctx context.Context, p string) error {
	p, err := validateFile(p)
	if err != nil {
		return fmt.Errorf("delete artifact: %w", err)
	}
	if err := s.root.RemoveAll(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete artifact %q: %w", p, rootErr(p, err))
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		fi, err := s.root.Lstat(dir)
		if err != nil || !fi.IsDir() || s.root.Remove(dir) != nil {
			break // gone, a file, or not empty
		}
	}
	return nil
}

// CreateMultipart implements Multipart.
func (s *localStore) CreateMultipart(ctx context.Context, p string) (string, error) {
	p, err := validateFile(p)
	if err != nil {
		return "", fmt.Errorf("create multipart upload: %w", err)
	}
	id := rand.Text()
	dir := stagingDir + "/" + id
	err = s.root.MkdirAll(dir, 0o755)
	if err == nil {
		err = s.root.WriteFile(dir+"/"+targetFile, []byte(p), 0o644)
	}
	if err != nil {
		s.root.RemoveAll(dir)
		return "", fmt.Errorf("create multipart upload for %q: %w", p, err)
	}
	return id, nil
}

// upload returns the staging folder of the upload id to p, or NotFound when
// there is no such upload or it targets another path.
func (s *localStore) upload(p, id string) (string, error) {
	notFound := errs.NotFoundf("multipart upload %q to %q not found", id, p)
	if id == "" || strings.ContainsFunc(id, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) {
		return "", notFound
	}
	dir := stagingDir + "/" + id
	target, err := s.root.ReadFile(dir + "/" + targetFile)
	if isNotExist(err) || err == nil && string(target) != p {
		return "", notFound
	}
	if err != nil {
		return "", err
	}
	return dir, nil
}

// UploadPart implements Multipart. The ETag is the hex MD5 of the part, as S3
// gives for an unencrypted part.
func (s *localStore) UploadPart(ctx context.Context, p, id string, number int, r io.Reader) (string, error) {
	p, err := validateFile(p)
	if err == nil {
		err = validatePartNumber(number)
	}
	if err != nil {
		return "", fmt.Errorf("upload part: %w", err)
	}
	dir, err := s.upload(p, id)
	if err != nil {
		return "", fmt.Errorf("upload part: %w", err)
	}
	h := md5.New()
	tmp, err := s.writeTemp(func(w io.Writer) error {
		_, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, r})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("upload part %d of %q: %w", number, p, err)
	}
	if err := s.root.Rename(tmp, fmt.Sprintf("%s/%d", dir, number)); err != nil {
		s.root.Remove(tmp)
		if isNotExist(err) { // aborted meanwhile
			return "", fmt.Errorf("upload part: %w", errs.NotFoundf("multipart upload %q to %q not found", id, p))
		}
		return "", fmt.Errorf("upload part %d of %q: %w", number, p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CompleteMultipart implements Multipart. It checks each part's ETag while
// copying it, so the parts are read once.
func (s *localStore) CompleteMultipart(ctx context.Context, p, id string, parts []Part) error {
	p, err := validateFile(p)
	if err == nil {
		parts, err = sortParts(parts)
	}
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	dir, err := s.upload(p, id)
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	tmp, err := s.writeTemp(func(w io.Writer) error {
		return s.copyParts(ctx, w, dir, parts)
	})
	if err == nil {
		err = s.commit(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("complete multipart upload to %q: %w", p, rootErr(p, err))
	}
	if err := s.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("complete multipart upload to %q: remove parts: %w", p, err)
	}
	return nil
}

// copyParts writes the parts in dir to w in order, checking their ETags.
func (s *localStore) copyParts(ctx context.Context, w io.Writer, dir string, parts []Part) error {
	for _, part := range parts {
		f, err := s.root.Open(fmt.Sprintf("%s/%d", dir, part.Number))
		if isNotExist(err) {
			return errs.Invalidf("part %d was not uploaded; expected only uploaded parts", part.Number)
		}
		if err != nil {
			return err
		}
		h := md5.New()
		_, err = io.Copy(io.MultiWriter(w, h), ctxReader{ctx, f})
		f.Close()
		if err != nil {
			return err
		}
		if etag := hex.EncodeToString(h.Sum(nil)); etag != strings.Trim(part.ETag, `"`) {
			return errs.Invalidf("part %d has ETag %q, not %q; expected the ETag UploadPart returned", part.Number, etag, part.ETag)
		}
	}
	return nil
}

// AbortMultipart implements Multipart.
func (s *localStore) AbortMultipart(ctx context.Context, p, id string) error {
	p, err := validateFile(p)
	if err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	dir, err := s.upload(p, id)
	if err == nil {
		err = s.root.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	return nil
}

// rootErr gives err, from the os.Root, the kind Invalid when the client's
// path p is at fault: it goes through a symbolic link that leads out of the
// folder, or through a loop of them.
func rootErr(p string, err error) error {
	// os.Root's error for a path leading out of it is not exported; its text
	// is pinned by TestLocalSymlinkOutOfRoot.
	escapes := false
	for e := err; e != nil && !escapes; e = errors.Unwrap(e) {
		escapes = e.Error() == "path escapes from parent"
	}
	if escapes || errors.Is(err, syscall.ELOOP) {
		return &errs.Error{Kind: errs.Invalid, Err: err,
			Message: fmt.Sprintf("artifact path %q leads outside the artifact root through a symbolic link; expected a path inside it", p)}
	}
	return err
}

// Sweep implements Sweeper. A temporary file being written, and an upload
// receiving parts, stay: writing a file, or renaming a part into a staging
// folder, touches it.
func (s *localStore) Sweep(ctx context.Context, maxAge time.Duration) (int, error) {
	cutoff := time.Now().Add(-maxAge)
	n := 0
	for _, dir := range []string{tmpDir, stagingDir} {
		f, err := s.root.Open(dir)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("sweep %s: %w", dir, err)
		}
		entries, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return n, fmt.Errorf("sweep %s: %w", dir, err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			fi, err := e.Info()
			if err != nil || !fi.ModTime().Before(cutoff) {
				continue // gone meanwhile, or in use
			}
			if err := s.root.RemoveAll(dir + "/" + e.Name()); err != nil && !isNotExist(err) {
				return n, fmt.Errorf("sweep %s: %w", dir, err)
			}
			n++
		}
	}
	return n, nil
}

// isNotExist reports whether err says a path or one of its parents is missing
// (a parent that is a file counts as missing).
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ctxReader stops a copy with the context's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
