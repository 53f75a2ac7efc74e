package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// MaxShards is the most shards one preparation may be split into.
const MaxShards = 256

// A shard of a preparation is a contiguous range of the source's files in
// path order; shard i of n holds files [i*N/n, (i+1)*N/n). Each shard is
// decoded on its own (in its own pod) with PrepareShard, and MergeShards
// joins them into exactly the dataset Prepare makes of the whole source:
// same bytes, same cache key. The files of a shard folder:
const (
	shardMeta   = "shard.json"
	shardPixels = "pixels.u8"
)

// shardFile is what shard.json holds.
type shardFile struct {
	Index  int    `json:"index"`
	Shards int    `json:"shards"`
	Files  int    `json:"files"` // in the whole source
	List   string `json:"list"`  // SHA-256 of the whole source's file list
	Params string `json:"params"`
	First  int    `json:"first"`
	// Sums are the content SHA-256 of the shard's files, Failed the reason
	// each one left out under SkipBad failed ("" for those decoded).
	Sums   []string `json:"sums"`
	Failed []string `json:"failed"`
}

// ShardResult is what PrepareShard made.
type ShardResult struct {
	Index, Shards int
	First, Count  int // the shard's files: [First, First+Count)
	Files         int // in the whole source
	Duration      time.Duration
}

func shardRange(index, shards, n int) (int, int) {
	return index * n / shards, (index + 1) * n / shards
}

func checkShards(index, shards int) error {
	if shards < 1 || shards > MaxShards {
		return errs.Invalidf("prepare images: %d shards: expected 1 to %d", shards, MaxShards)
	}
	if index < 0 || index >= shards {
		return errs.Invalidf("prepare images: shard %d of %d: expected an index from 0 to %d", index, shards, shards-1)
	}
	return nil
}

// listHash identifies the file list and the parameters, so that shards of
// different sources or settings are never merged.
func (p *preparation) listHash() (list, params string) {
	h := sha256.New()
	for _, f := range p.scan.files {
		fmt.Fprintf(h, "%s %d\n", strconv.Quote(f.rel), f.size)
	}
	params = imagesHash(&scanResult{}, nil, p.opt)
	return hex.EncodeToString(h.Sum(nil)), params
}

// PrepareShard decodes shard index of shards of opt's source into dir
// (which it creates). Errors: as Prepare's.
func PrepareShard(ctx context.Context, opt PrepareOptions, index, shards int, dir string) (*ShardResult, error) {
	start := time.Now()
	if err := checkShards(index, shards); err != nil {
		return nil, err
	}
	p, err := open(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer p.src.Close()
	lo, hi := shardRange(index, shards, len(p.scan.files))
	sums, err := p.fileSums(ctx, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	pix, failed, err := decodeImages(ctx, p.src, p.scan.files[lo:hi], opt, p.workers)
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	sf := shardFile{Index: index, Shards: shards, Files: len(p.scan.files), First: lo, Sums: sums, Failed: make([]string, len(failed))}
	sf.List, sf.Params = p.listHash()
	for i, e := range failed {
		if e != nil {
			sf.Failed[i] = reason(e)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, shardPixels), pix, 0o644); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(sf)
	if err := os.WriteFile(filepath.Join(dir, shardMeta), b, 0o644); err != nil {
		return nil, err
	}
	return &ShardResult{Index: index, Shards: shards, First: lo, Count: hi - lo, Files: len(p.scan.files), Duration: time.Since(start)}, nil
}

// MergeShards joins the shard folders dirs (every shard of one source and
// options, in any order) into the prepared dataset, as Prepare would have
// made it, in the cache. The source is listed again but not read.
// Errors: Invalid (a shard missing, repeated, of another source or other
// options, or damaged), and Prepare's.
func MergeShards(ctx context.Context, opt PrepareOptions, dirs []string) (*PrepareResult, error) {
	start := time.Now()
	p, err := open(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer p.src.Close()
	n, size := len(p.scan.files), opt.Image.Len()
	list, params := p.listHash()
	shards := make([]*shardFile, len(dirs))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, shardMeta))
		if err != nil {
			return nil, errs.Invalidf("merge image shards: %s: %v", dir, err)
		}
		var sf shardFile
		if err := json.Unmarshal(b, &sf); err != nil {
			return nil, errs.Invalidf("merge image shards: %s: %v", filepath.Join(dir, shardMeta), err)
		}
		lo, hi := shardRange(sf.Index, max(sf.Shards, 1), n)
		switch {
		case sf.Shards != len(dirs) || sf.Index < 0 || sf.Index >= len(dirs):
			return nil, errs.Invalidf("merge image shards: %s is shard %d of %d, but %d shards were given", dir, sf.Index, sf.Shards, len(dirs))
		case shards[sf.Index] != nil:
			return nil, errs.Invalidf("merge image shards: shard %d is given twice (%s)", sf.Index, dir)
		case sf.Files != n || sf.List != list:
			return nil, errs.Invalidf("merge image shards: %s was prepared from other files than the %d the source has now", dir, n)
		case sf.Params != params:
			return nil, errs.Invalidf("merge image shards: %s was prepared with other options", dir)
		case sf.First != lo || len(sf.Sums) != hi-lo || len(sf.Failed) != hi-lo:
			return nil, errs.Invalidf("merge image shards: %s: its file range does not match shard %d of %d", dir, sf.Index, sf.Shards)
		}
		sf.Params = dir // from here on: where its pixels are
		shards[sf.Index] = &sf
	}
	if len(dirs) == 0 {
		return nil, errs.Invalidf("merge image shards: no shards")
	}
	sums := make([]string, 0, n)
	for _, sf := range shards {
		sums = append(sums, sf.Sums...)
	}
	res, done, err := p.lookup(sums, start)
	if done || err != nil {
		return res, err
	}
	pix := make([]uint8, n*size)
	failed := make([]error, n)
	for _, sf := range shards {
		f, err := os.Open(filepath.Join(sf.Params, shardPixels))
		if err != nil {
			return nil, errs.Invalidf("merge image shards: %v", err)
		}
		part := pix[sf.First*size : (sf.First+len(sf.Sums))*size]
		_, err = io.ReadFull(f, part)
		if err == nil {
			var extra [1]byte
			if k, _ := f.Read(extra[:]); k > 0 {
				err = fmt.Errorf("longer than %d bytes", len(part))
			}
		}
		f.Close()
		if err != nil {
			return nil, errs.Invalidf("merge image shards: %s: %v", filepath.Join(sf.Params, shardPixels), err)
		}
		for i, why := range sf.Failed {
			if why != "" {
				failed[sf.First+i] = errs.Invalidf("%s", why)
			}
		}
	}
	return p.commit(res, pix, failed, start)
}
