package artifacts

import (
	"context"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// FS returns the tree under dir ("" for the root) of s as a read-only
// fs.FS, so that code which copies or walks files (os.CopyFS, fs.WalkDir)
// reads a store without knowing its backend. Every call uses ctx. A
// directory exists when it lists something: stores keep no empty folders.
func FS(ctx context.Context, s Store, dir string) fs.FS {
	return storeFS{ctx: ctx, s: s, dir: dir}
}

type storeFS struct {
	ctx context.Context
	s   Store
	dir string
}

func (f storeFS) path(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return f.dir, nil
	}
	return path.Join(f.dir, name), nil
}

// Open implements fs.FS.
func (f storeFS) Open(name string) (fs.File, error) {
	p, err := f.path("open", name)
	if err != nil {
		return nil, err
	}
	if name != "." {
		rc, info, err := f.s.Get(f.ctx, p)
		if err == nil {
			return &storeFile{ReadCloser: rc, info: entry{in: info}}, nil
		}
		if !errs.Is(err, errs.NotFound) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	entries, err := f.ReadDir(name)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 && name != "." {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &storeDir{info: entry{in: Info{Path: p, IsDir: true}}, entries: entries}, nil
}

// ReadDir implements fs.ReadDirFS.
func (f storeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := f.path("readdir", name)
	if err != nil {
		return nil, err
	}
	infos, err := f.s.List(f.ctx, p)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(infos))
	for i, in := range infos {
		if in.IsDir {
			// Stores keep no times of folders (S3 has no folders); one
			// backend's listing may know one, but a folder's Stat cannot.
			in.ModTime = time.Time{}
		}
		out[i] = entry{in: in}
	}
	return out, nil
}

// entry is an Info as both fs.FileInfo and fs.DirEntry.
type entry struct{ in Info }

func (e entry) Name() string {
	if e.in.Path == "" {
		return "."
	}
	return path.Base(e.in.Path)
}
func (e entry) Size() int64        { return e.in.Size }
func (e entry) ModTime() time.Time { return e.in.ModTime }
func (e entry) IsDir() bool        { return e.in.IsDir }
func (e entry) Sys() any           { return nil }
func (e entry) Type() fs.FileMode  { return e.Mode().Type() }
func (e entry) Mode() fs.FileMode {
	if e.in.IsDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (e entry) Info() (fs.FileInfo, error) { return e, nil }

type storeFile struct {
	io.ReadCloser
	info entry
}

func (f *storeFile) Stat() (fs.FileInfo, error) { return f.info, nil }

type storeDir struct {
	info    entry
	entries []fs.DirEntry
}

func (d *storeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *storeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}
func (d *storeDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *storeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}
