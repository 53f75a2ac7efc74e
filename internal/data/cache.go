package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// DefaultCacheDir is where prepared datasets go unless told otherwise.
const DefaultCacheDir = "cairn-data/datasets"

// Cache is a folder of prepared datasets, one sub-folder per content hash,
// plus downloaded source archives (downloads/) and per-source indexes of
// file hashes (filehashes/) that make a cache hit cheap. Several processes
// may share one: every write lands under a temporary name and is renamed.
type Cache struct {
	Dir string
}

// NewCache returns the cache in dir (DefaultCacheDir when empty).
func NewCache(dir string) *Cache {
	if dir == "" {
		dir = DefaultCacheDir
	}
	return &Cache{Dir: dir}
}

// DatasetDir is the folder the dataset with this content hash lives in.
func (c *Cache) DatasetDir(hash string) string {
	name := hash
	if len(name) > 24 {
		name = name[:24]
	}
	return filepath.Join(c.Dir, name)
}

// DownloadDir is where downloaded source archives are kept, by digest.
func (c *Cache) DownloadDir() string { return filepath.Join(c.Dir, "downloads") }

// Lookup returns the manifest of the cached dataset with this hash, and
// whether there is a complete one.
func (c *Cache) Lookup(hash string) (Manifest, bool, error) {
	m, err := ReadManifest(c.DatasetDir(hash))
	switch {
	case errs.Is(err, errs.NotFound):
		return Manifest{}, false, nil
	case err != nil:
		// A manifest from another format version is simply not a hit:
		// the format version is part of the hash.
		if errs.Is(err, errs.Invalid) {
			return Manifest{}, false, nil
		}
		return Manifest{}, false, err
	case m.Hash != hash:
		return Manifest{}, false, nil
	}
	return m, true, nil
}

// Commit saves d as the dataset for hash (d.Manifest.Hash is set to it) and
// returns its folder. The dataset is written to a temporary folder and
// renamed into place; when another process got there first, its copy wins.
func (c *Cache) Commit(hash string, d *Dataset) (string, error) {
	d.Manifest.Hash = hash
	final := c.DatasetDir(hash)
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dataset: %w", err)
	}
	tmp, err := os.MkdirTemp(c.Dir, ".tmp-"+filepath.Base(final)+"-")
	if err != nil {
		return "", fmt.Errorf("cache dataset: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := d.Save(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, ok, _ := c.Lookup(hash); ok {
			return final, nil // a concurrent prepare committed the same dataset
		}
		// A leftover folder without a complete dataset: replace it.
		if rerr := os.RemoveAll(final); rerr != nil {
			return "", fmt.Errorf("cache dataset: %w", err)
		}
		if err := os.Rename(tmp, final); err != nil {
			return "", fmt.Errorf("cache dataset: %w", err)
		}
	}
	return final, nil
}

// ReadLabels reads only the labels of the dataset saved in dir.
func ReadLabels(dir string) ([]int32, error) {
	b, err := os.ReadFile(filepath.Join(dir, labelFile))
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if len(b)%4 != 0 {
		return nil, errs.Invalidf("%s: %d bytes is not an int32 tensor", filepath.Join(dir, labelFile), len(b))
	}
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// FileHashIndex remembers the SHA-256 of each file of one source by its
// stamp (size and modification time), so hashing an unchanged source reads
// no file contents. One index file per source, rewritten with exactly the
// files seen, so it never grows beyond the source. It is safe for
// concurrent use.
type FileHashIndex struct {
	path string
	key  string
	mu   sync.Mutex
	old  map[string]fileHashEntry
	seen map[string]fileHashEntry
}

type fileHashEntry struct {
	Stamp  string `json:"stamp"`
	SHA256 string `json:"sha256"`
}

// racyWindow: a file modified this recently may change again within the
// same timestamp, so its hash is not remembered.
const racyWindow = 2 * time.Second

// FileHashes returns the file-hash index of the source with this key (see
// Source.Key), as last saved; a missing or unreadable one starts empty.
func (c *Cache) FileHashes(sourceKey string) *FileHashIndex {
	sum := sha256.Sum256([]byte(sourceKey))
	ix := &FileHashIndex{
		path: filepath.Join(c.Dir, "filehashes", hex.EncodeToString(sum[:12])+".json"),
		key:  sourceKey,
		old:  map[string]fileHashEntry{},
		seen: map[string]fileHashEntry{},
	}
	if b, err := os.ReadFile(ix.path); err == nil {
		var doc struct {
			Source string                   `json:"source"`
			Files  map[string]fileHashEntry `json:"files"`
		}
		if json.Unmarshal(b, &doc) == nil && doc.Source == sourceKey && doc.Files != nil {
			ix.old = doc.Files
		}
	}
	return ix
}

// Lookup returns the remembered hash of rel if its stamp still matches.
func (ix *FileHashIndex) Lookup(rel, stamp string) (string, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.old[rel]
	if ok && e.Stamp == stamp {
		ix.seen[rel] = e
		return e.SHA256, true
	}
	return "", false
}

// Remember records sum as the hash of rel at stamp, unless the file was
// modified too recently (mtime) for its stamp to be trusted.
func (ix *FileHashIndex) Remember(rel, stamp, sum string, mtime time.Time) {
	if time.Since(mtime) < racyWindow {
		return
	}
	ix.mu.Lock()
	ix.seen[rel] = fileHashEntry{Stamp: stamp, SHA256: sum}
	ix.mu.Unlock()
}

// Save writes the index, with exactly the files looked up or remembered
// since FileHashes, when it changed. Failing to write it only makes the
// next hit slower, so errors are ignored.
func (ix *FileHashIndex) Save() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.seen) == len(ix.old) {
		same := true
		for k, v := range ix.seen {
			if ix.old[k] != v {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	dir := filepath.Dir(ix.path)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".index-*")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	err = json.NewEncoder(w).Encode(struct {
		Source string                   `json:"source"`
		Files  map[string]fileHashEntry `json:"files"`
	}{ix.key, ix.seen})
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_ = os.Rename(tmp.Name(), ix.path)
	}
}
