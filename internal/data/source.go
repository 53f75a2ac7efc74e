package data

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// MaxDownloadBytes bounds one downloaded source archive (16 GiB).
const MaxDownloadBytes = 16 << 30

// Source is an opened dataset source: a file system (a folder, or the
// inside of a zip archive) and the folder in it that holds the data.
type Source struct {
	FS   fs.FS
	Root string // the data folder inside FS, "." for its top
	Name string // what the user gave, for messages
	// Key identifies the source for the per-file hash index (see
	// Cache.FileHashes): the absolute path of the folder or of the zip
	// archive.
	Key    string
	SHA256 string // digest of the archive, for zip and URL sources
	zip    bool
	close  func() error
}

// Display names a file of the source in messages: the folder or archive
// followed by the file's path inside it.
func (s *Source) Display(rel string) string {
	full := path.Join(s.Root, rel)
	if s.zip {
		return s.Name + "!" + full
	}
	return filepath.Join(s.Name, filepath.FromSlash(full))
}

// Close releases the source (the zip archive it reads, if any).
func (s *Source) Close() error { return s.close() }

// IsURL reports whether a source names an HTTP(S) download.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// OpenSource opens a folder, a zip archive or an HTTP(S) URL (downloaded
// into downloads and verified against wantSHA256 when given). The caller
// closes it. Errors: Invalid for a bad source or checksum, NotFound for a
// missing one, and Download's for a URL.
func OpenSource(ctx context.Context, src, wantSHA256, downloads string, client *http.Client) (*Source, error) {
	if src == "" {
		return nil, errs.Invalidf("source: expected a folder, a .zip file or an http(s) URL")
	}
	if IsURL(src) {
		p, digest, err := Download(ctx, client, src, wantSHA256, downloads)
		if err != nil {
			return nil, err
		}
		s, err := openZip(p, src)
		if err != nil {
			return nil, err
		}
		s.SHA256 = digest
		return s, nil
	}
	if wantSHA256 != "" && !strings.HasSuffix(strings.ToLower(src), ".zip") {
		return nil, errs.Invalidf("source %s: a SHA-256 checksum applies to a .zip file or a URL, not a folder", src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.NotFoundf("source %s: no such folder or file", src)
		}
		return nil, errs.Invalidf("source %s: %v", src, err)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src, err)
	}
	if fi.IsDir() {
		return &Source{FS: os.DirFS(abs), Root: ".", Name: src, Key: abs, close: func() error { return nil }}, nil
	}
	s, err := openZip(abs, src)
	if err != nil {
		return nil, err
	}
	// The archive's digest is recorded for lineage, and checked when given.
	got, err := fileSHA256(abs)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("source %s: %w", src, err)
	}
	if wantSHA256 != "" {
		if err := checkDigest(src, wantSHA256, got); err != nil {
			s.close()
			return nil, err
		}
	}
	s.SHA256 = got
	return s, nil
}

// openZip opens a zip archive as a source. An archive whose top holds one
// folder (the common "dataset/..." packing) has its data in that folder,
// unless the folder is a split folder such as train/.
func openZip(p, name string) (*Source, error) {
	if !looksLikeZip(p) {
		return nil, errs.Invalidf("source %s: not a folder or a zip archive (expected a folder, a .zip file or an http(s) URL)", name)
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, errs.Invalidf("source %s: unreadable zip archive: %v", name, err)
	}
	s := &Source{FS: zr, Root: ".", Name: name, Key: p, zip: true, close: zr.Close}
	entries, err := fs.ReadDir(zr, ".")
	if err != nil {
		zr.Close()
		return nil, errs.Invalidf("source %s: unreadable zip archive: %v", name, err)
	}
	var visible []fs.DirEntry
	for _, e := range entries {
		if !Hidden(e.Name()) {
			visible = append(visible, e)
		}
	}
	if len(visible) == 1 && visible[0].IsDir() && SplitOfFolder(visible[0].Name()) == "" {
		s.Root = visible[0].Name()
	}
	return s, nil
}

// Hidden reports whether a file or folder name is left out of a source:
// dot files and the litter of archivers and file browsers (__MACOSX,
// Thumbs.db, desktop.ini).
func Hidden(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__MACOSX" || name == "Thumbs.db" || name == "desktop.ini"
}

func looksLikeZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	return bytes.Equal(magic[:], []byte("PK\x03\x04")) || bytes.Equal(magic[:], []byte("PK\x05\x06"))
}

// Download fetches an HTTP(S) URL into dir (created if needed) as
// <sha256><ext>, verifying it against wantSHA256 (hex) when given, and
// returns the file's path and digest. A file already there under the
// expected digest is verified and reused without a request. Errors: Invalid
// for a bad URL or checksum (naming the expected and actual digests),
// NotFound for HTTP 404 and 410, Unavailable for network failures and other
// HTTP errors.
func Download(ctx context.Context, client *http.Client, rawURL, wantSHA256, dir string) (string, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", errs.Invalidf("download %s: expected an http:// or https:// URL", rawURL)
	}
	want := strings.ToLower(strings.TrimSpace(wantSHA256))
	if want != "" {
		if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
			return "", "", errs.Invalidf("download %s: checksum %q: expected 64 hex digits (SHA-256)", rawURL, wantSHA256)
		}
	}
	ext := path.Ext(u.Path)
	if len(ext) > 8 || strings.ContainsAny(ext, `\/:`) {
		ext = ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("download %s: %w", rawURL, err)
	}
	if want != "" {
		cached := filepath.Join(dir, want+ext)
		if got, err := fileSHA256(cached); err == nil && got == want {
			return cached, got, nil
		}
	}
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", errs.Invalidf("download %s: %v", rawURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("download %s: %w", rawURL, ctx.Err())
		}
		return "", "", errs.E(errs.Unavailable, "download %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return "", "", errs.NotFoundf("download %s: HTTP %s", rawURL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", "", errs.E(errs.Unavailable, "download %s: HTTP %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", rawURL, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, MaxDownloadBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("download %s: %w", rawURL, ctx.Err())
		}
		return "", "", errs.E(errs.Unavailable, "download %s: %v", rawURL, err)
	}
	if n > MaxDownloadBytes {
		return "", "", errs.E(errs.TooLarge, "download %s: larger than %d bytes", rawURL, int64(MaxDownloadBytes))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" {
		if err := checkDigest(rawURL, want, got); err != nil {
			return "", "", err
		}
	}
	final := filepath.Join(dir, got+ext)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", "", fmt.Errorf("download %s: %w", rawURL, err)
	}
	return final, got, nil
}

func checkDigest(name, want, got string) error {
	if !strings.EqualFold(strings.TrimSpace(want), got) {
		return errs.Invalidf("%s: SHA-256 checksum mismatch: expected %s, got %s", name, strings.ToLower(strings.TrimSpace(want)), got)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
