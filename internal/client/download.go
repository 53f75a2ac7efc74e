package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

// FileInfo is one entry of an artifact listing.
type FileInfo struct {
	Path  string // slash-separated, relative to the root listed (a run's artifact root or a URI)
	IsDir bool
	Size  int64 // bytes; 0 for directories
}

// proxyScheme is the scheme of artifact URIs the server serves itself.
const proxyScheme = "mlflow-artifacts:"

const proxyAPI = "/api/2.0/mlflow-artifacts/artifacts"

// CompleteMarker is the file FetchModel writes last into a cached version's
// folder; a folder without it is not a complete download.
const CompleteMarker = ".cairn-complete"

// tree is a folder of artifacts read through the server: a run's artifact
// root (listed with artifacts/list) or an mlflow-artifacts: URI (listed and
// read through the artifact proxy).
type tree struct {
	runID string
	root  string // proxy path of the root; for a run, known after the first listing
	known bool   // root is set
}

// proxyPath maps mlflow-artifacts:/p or mlflow-artifacts://host/p to p.
// Other URIs are Invalid: the client cannot read them through the server.
func proxyPath(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, proxyScheme)
	if !ok {
		scheme, _, found := strings.Cut(uri, ":")
		if !found || strings.ContainsAny(scheme, "/\\") {
			scheme = "(none)"
		}
		return "", errs.Invalidf("artifact URI %q has scheme %s: the client reads only %s URIs through the server; open it directly", uri, scheme, proxyScheme)
	}
	if h, ok := strings.CutPrefix(rest, "//"); ok {
		_, rest, _ = strings.Cut(h, "/")
	}
	p, err := cleanRel(strings.Trim(rest, "/"))
	if err != nil {
		return "", fmt.Errorf("artifact URI %q: %w", uri, err)
	}
	return p, nil
}

// treeOf returns the tree a run ID, a runs:/<id>/<path> URI or an
// mlflow-artifacts: URI names, and the path inside it.
func treeOf(runOrURI, relPath string) (*tree, string, error) {
	rel, err := cleanRel(relPath)
	if err != nil {
		return nil, "", err
	}
	if r, ok := strings.CutPrefix(runOrURI, "runs:/"); ok {
		id, sub, _ := strings.Cut(strings.TrimLeft(r, "/"), "/")
		if sub, err = cleanRel(strings.Trim(sub, "/")); err != nil || id == "" {
			return nil, "", errs.Invalidf("invalid run URI %q: expected runs:/<run_id>/<path>", runOrURI)
		}
		return &tree{runID: id}, joinRel(sub, rel), nil
	}
	if !strings.Contains(runOrURI, ":") {
		if runOrURI == "" {
			return nil, "", errs.Missing("run_id")
		}
		return &tree{runID: runOrURI}, rel, nil
	}
	root, err := proxyPath(runOrURI)
	if err != nil {
		return nil, "", err
	}
	return &tree{root: root, known: true}, rel, nil
}

// cleanRel checks a relative artifact path given by a caller: no "..", not
// absolute, no backslash or NUL. It returns the cleaned path, "" for the root.
func cleanRel(p string) (string, error) {
	if p == "" || p == "." {
		return "", nil
	}
	if strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || hasDotDot(p) {
		return "", errs.Invalidf("artifact path %q: expected a relative slash-separated path without '..'", p)
	}
	return path.Clean(p), nil
}

func hasDotDot(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func joinRel(dir, p string) string {
	if dir == "" {
		return p
	}
	if p == "" {
		return dir
	}
	return dir + "/" + p
}

// checkChild rejects a path from a server listing that is not a plain,
// direct child of dir: a malicious or broken server must not make the client
// write outside the destination folder.
func checkChild(dir, p string) error {
	name, ok := p, true
	if dir != "" {
		name, ok = strings.CutPrefix(p, dir+"/")
	}
	if !ok || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return errs.Invalidf("server listed unsafe artifact path %q under %q", p, dir)
	}
	return nil
}

// list returns the direct children of rel in t, with paths relative to t's root.
func (c *Client) list(ctx context.Context, t *tree, rel string) ([]FileInfo, error) {
	type wireFile struct {
		Path     string `json:"path"`
		IsDir    bool   `json:"is_dir"`
		FileSize int64  `json:"file_size"`
	}
	var files []FileInfo
	// add appends entries named relative to prefix: the proxy lists base
	// names (prefix is rel), artifacts/list paths relative to the run's root.
	add := func(ws []wireFile, prefix string) error {
		for _, w := range ws {
			p := joinRel(prefix, w.Path)
			if err := checkChild(rel, p); err != nil {
				return err
			}
			files = append(files, FileInfo{Path: p, IsDir: w.IsDir, Size: w.FileSize})
		}
		return nil
	}
	if t.runID == "" {
		var out struct {
			Files []wireFile `json:"files"`
		}
		if err := c.Do(ctx, "GET", proxyAPI, url.Values{"path": {joinRel(t.root, rel)}}, &out); err != nil {
			return nil, err
		}
		if err := add(out.Files, rel); err != nil {
			return nil, err
		}
		return files, nil
	}
	tok := ""
	for {
		q := url.Values{"run_id": {t.runID}, "path": {rel}}
		if tok != "" {
			q.Set("page_token", tok)
		}
		var out struct {
			RootURI       string     `json:"root_uri"`
			Files         []wireFile `json:"files"`
			NextPageToken string     `json:"next_page_token"`
		}
		if err := c.Do(ctx, "GET", mlflowAPI+"artifacts/list", q, &out); err != nil {
			return nil, err
		}
		if !t.known && strings.HasPrefix(out.RootURI, proxyScheme) {
			if root, err := proxyPath(out.RootURI); err == nil {
				t.root, t.known = root, true
			}
		}
		if err := add(out.Files, ""); err != nil {
			return nil, err
		}
		if out.NextPageToken == "" {
			return files, nil
		}
		tok = out.NextPageToken
	}
}

// get streams the file at rel in t to w.
func (c *Client) get(ctx context.Context, t *tree, rel string, w io.Writer) error {
	if !t.known {
		run, err := c.GetRun(ctx, t.runID)
		if err != nil {
			return err
		}
		if t.root, err = proxyPath(run.Info.ArtifactURI); err != nil {
			return fmt.Errorf("run %s: %w", t.runID, err)
		}
		t.known = true
	}
	p := joinRel(t.root, rel)
	if p == "" {
		return errs.Invalidf("artifact path is empty: expected a file")
	}
	resp, err := c.send(ctx, "GET", c.base+proxyAPI+"/"+escapePath(p), nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", p, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("download %s: %w", p, err)
	}
	return nil
}

// ListArtifacts returns the direct children of relPath ("" for the root)
// under a run's artifact root (runOrURI is a run ID or runs:/<id>/<path>,
// listed with artifacts/list) or under an mlflow-artifacts: URI (listed
// through the artifact proxy). Paths are relative to that root.
// Errors: Invalid (path, or a URI of a scheme the server does not proxy),
// NotFound (run).
func (c *Client) ListArtifacts(ctx context.Context, runOrURI, relPath string) ([]FileInfo, error) {
	t, rel, err := treeOf(runOrURI, relPath)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	files, err := c.list(ctx, t, rel)
	if err != nil {
		return nil, fmt.Errorf("list artifacts of %s: %w", runOrURI, err)
	}
	return files, nil
}

// DownloadArtifact streams one file of a run's artifacts to w through the
// artifact proxy; the run's artifact URI must be mlflow-artifacts:.
// Errors: Invalid (path, or artifacts not stored through the server), NotFound.
func (c *Client) DownloadArtifact(ctx context.Context, runID, relPath string, w io.Writer) error {
	t, rel, err := treeOf(runID, relPath)
	if err == nil {
		err = c.get(ctx, t, rel, w)
	}
	if err != nil {
		return fmt.Errorf("download artifact %s of run %s: %w", relPath, runID, err)
	}
	return nil
}

// DownloadArtifacts downloads the folder relPath ("" for all) of a run's
// artifacts into dstDir, which must not exist or be empty: the files land in
// a temporary folder beside it that is renamed to dstDir once complete. When
// relPath is a file, dstDir holds that one file. Errors: Invalid (path, an
// unsafe server listing), NotFound, Conflict (dstDir exists and is not empty).
func (c *Client) DownloadArtifacts(ctx context.Context, runID, relPath, dstDir string) error {
	t, rel, err := treeOf(runID, relPath)
	if err == nil {
		err = c.download(ctx, t, rel, dstDir, nil)
	}
	if err != nil {
		return fmt.Errorf("download artifacts %s of run %s: %w", relPath, runID, err)
	}
	return nil
}

// DownloadURI downloads the folder (or file) at an mlflow-artifacts: URI, as
// returned by GetModelVersionDownloadURI, into dstDir like DownloadArtifacts.
// A file:// or s3:// URI is Invalid: the server does not proxy it, and the
// caller may open it directly. Errors: Invalid, NotFound, Conflict.
func (c *Client) DownloadURI(ctx context.Context, artifactURI, dstDir string) error {
	t, _, err := treeOf(artifactURI, "")
	if err == nil && t.runID != "" {
		err = errs.Invalidf("%q is not an artifact URI: use DownloadArtifacts for a run", artifactURI)
	}
	if err == nil {
		err = c.download(ctx, t, "", dstDir, nil)
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", artifactURI, err)
	}
	return nil
}

// download fetches rel of t into a temporary folder beside dst, writes
// marker (when not nil) last as CompleteMarker, and renames the folder to dst.
func (c *Client) download(ctx context.Context, t *tree, rel, dst string, marker []byte) error {
	return placeFolder(dst, marker, func(root *os.Root) error { return c.fetchTree(ctx, t, rel, rel, root) })
}

// placeFolder fills a temporary folder beside dst, writes marker (when not
// nil) last as CompleteMarker, and renames the folder to dst, so that dst
// appears whole or not at all. Errors: Conflict (dst exists and is not empty).
func placeFolder(dst string, marker []byte, fill func(root *os.Root) error) error {
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left to remove after the rename
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := fill(root); err != nil {
		return err
	}
	if marker != nil {
		if err := root.WriteFile(CompleteMarker, marker, 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Stat(dst); serr == nil {
			return &errs.Error{Kind: errs.Conflict, Message: fmt.Sprintf("destination %s already exists and is not empty", dst), Err: err}
		}
		return err
	}
	return nil
}

// fetchTree writes the files under dir of t into root, at their paths
// relative to base. An empty listing of a non-root path means it is a file
// (or nothing: NotFound).
func (c *Client) fetchTree(ctx context.Context, t *tree, base, dir string, root *os.Root) error {
	files, err := c.list(ctx, t, dir)
	if err != nil {
		return err
	}
	if len(files) == 0 && dir == base && (dir != "" || t.runID == "" && t.root != "") {
		name := path.Base(joinRel(t.root, dir))
		return fetchFile(root, name, func(w io.Writer) error { return c.get(ctx, t, dir, w) })
	}
	for _, f := range files {
		local := strings.TrimPrefix(strings.TrimPrefix(f.Path, base), "/")
		if f.IsDir {
			if err := root.MkdirAll(local, 0o755); err != nil {
				return err
			}
			if err := c.fetchTree(ctx, t, base, f.Path, root); err != nil {
				return err
			}
			continue
		}
		if err := fetchFile(root, local, func(w io.Writer) error { return c.get(ctx, t, f.Path, w) }); err != nil {
			return err
		}
	}
	return nil
}

// fetchFile creates name inside root and fills it with get.
func fetchFile(root *os.Root, name string, get func(io.Writer) error) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	f, err := root.Create(name)
	if err != nil {
		return err
	}
	if err := get(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cacheRecord is the content of CompleteMarker.
type cacheRecord struct {
	Name        string `json:"name"`
	Version     int64  `json:"version"`
	ArtifactURI string `json:"artifact_uri"`
	FetchedAt   int64  `json:"fetched_at"` // Unix milliseconds
}

// FetchModel resolves a models:/ URI (see ResolveModelURI) and returns a
// local folder with the version's files, cacheDir/<name>/<version>, filled
// once through the server's artifact proxy (see CacheModel). Errors: Invalid
// (URI, or files not stored through the server), NotFound, Conflict (a
// folder without the marker is in the way).
func (c *Client) FetchModel(ctx context.Context, uri, cacheDir string) (string, *registry.ModelVersion, error) {
	v, err := c.ResolveVersion(ctx, uri)
	if err != nil {
		return "", nil, fmt.Errorf("fetch model: %w", err)
	}
	dir, err := CacheModel(cacheDir, v, func() (string, func(*os.Root) error, error) {
		loc, err := c.GetModelVersionDownloadURI(ctx, v.Name, v.Version)
		if err != nil {
			return "", nil, err
		}
		t, _, err := treeOf(loc, "")
		if err == nil && t.runID != "" {
			err = errs.Invalidf("download URI %q is not an artifact URI", loc)
		}
		if err != nil {
			return "", nil, err
		}
		return loc, func(root *os.Root) error { return c.fetchTree(ctx, t, "", "", root) }, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("fetch model %s: %w", v, err)
	}
	return dir, v, nil
}

// CacheModel returns the folder cacheDir/<name>/<version> holding the files
// of version v, filling it first unless it is complete (holds
// CompleteMarker). source is called only to fill it: it returns where the
// files come from (an artifact URI, recorded in the marker) and fill, which
// writes them into a temporary folder beside the final one; the folder is
// renamed into place once whole. Processes caching the same version at once
// each fill a folder of their own; the first rename wins and the others use
// the winner's folder. Errors: Invalid (a name that cannot name a folder),
// Conflict (a folder without the marker is in the way), and source's.
func CacheModel(cacheDir string, v *registry.ModelVersion, source func() (string, func(*os.Root) error, error)) (string, error) {
	name := url.PathEscape(v.Name)
	if name == "." || name == ".." {
		return "", errs.Invalidf("registered model name %q cannot name a cache folder", v.Name)
	}
	dir := filepath.Join(cacheDir, name, version(v.Version))
	if complete(dir) {
		return dir, nil
	}
	loc, fill, err := source()
	if err != nil {
		return "", err
	}
	marker, _ := json.Marshal(cacheRecord{Name: v.Name, Version: v.Version, ArtifactURI: loc, FetchedAt: time.Now().UnixMilli()})
	err = placeFolder(dir, marker, fill)
	if errs.Is(err, errs.Conflict) && complete(dir) {
		return dir, nil // another process won the race
	}
	if errs.Is(err, errs.Conflict) {
		return "", errs.Conflictf("cache folder %s exists without %s: remove it to fetch again", dir, CompleteMarker)
	}
	if err != nil {
		return "", err
	}
	return dir, nil
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, CompleteMarker))
	return err == nil
}
