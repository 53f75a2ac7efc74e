package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// prepareVersion changes whenever image preparation would produce different
// bytes for the same inputs and parameters; it is part of the content hash.
const prepareVersion = 1

// PrepareOptions configure Prepare.
type PrepareOptions struct {
	// Source is a folder, a .zip file or an http(s) URL of a .zip file.
	Source string
	// SHA256 is the expected digest (hex) of a downloaded or zip source.
	SHA256 string
	// RequireSHA256 makes a URL source without SHA256 an error.
	RequireSHA256 bool
	Image         Options
	// Labels is, for the fingers layout, LabelsCount (the default: classes
	// "0".."5") or LabelsCountHand (classes "0L", "0R", ..., "5R", so a
	// model also says which hand).
	Labels string
	// Split are the validation and test fractions for examples whose split
	// no train/ val/ test/ folder fixes (see Prepare).
	Split data.SplitFractions
	Seed  uint64
	// Workers decode images in parallel; 0 means runtime.NumCPU(). The
	// output does not depend on it.
	Workers int
	// CacheDir holds prepared datasets (DefaultCacheDir when empty).
	CacheDir string
	// SkipBad leaves out, and reports, files that are not images, do not
	// fit the layout or do not decode, instead of failing on the first.
	SkipBad bool
	// Synthetic marks the dataset as synthetic even when the source has no
	// synthetic marker (the generators write one).
	Synthetic bool
	// Progress, when set, is called as images are decoded, with the number
	// done and the total; calls never overlap and done only grows.
	Progress func(done, total int)
	// HTTPClient downloads URL sources (http.DefaultClient when nil).
	HTTPClient *http.Client
}

// DefaultPrepareOptions returns 64x64 grayscale, 15% validation and 15%
// test, seed 1, every core and the default cache folder.
func DefaultPrepareOptions() PrepareOptions {
	return PrepareOptions{
		Image:    DefaultOptions(),
		Split:    data.SplitFractions{Validation: 0.15, Test: 0.15},
		Seed:     1,
		CacheDir: data.DefaultCacheDir,
	}
}

// Validate checks the options that do not need the source.
func (o PrepareOptions) Validate() error {
	if o.Source == "" {
		return errs.Invalidf("prepare images: no source: expected a folder, a .zip file or an http(s) URL")
	}
	if o.RequireSHA256 && o.SHA256 == "" && data.IsURL(o.Source) {
		return errs.Invalidf("prepare images: %s: a SHA-256 checksum is required for downloads", o.Source)
	}
	if o.Workers < 0 {
		return errs.Invalidf("prepare images: workers %d: expected 0 (every core) or more", o.Workers)
	}
	if err := o.Image.Validate(); err != nil {
		return fmt.Errorf("prepare images: %w", err)
	}
	if err := o.Split.Validate(); err != nil {
		return fmt.Errorf("prepare images: %w", err)
	}
	if o.Labels != "" && o.Labels != LabelsCount && o.Labels != LabelsCountHand {
		return errs.Invalidf("prepare images: labels %q: expected %s or %s", o.Labels, LabelsCount, LabelsCountHand)
	}
	return nil
}

// PrepareResult is what Prepare made or found.
type PrepareResult struct {
	Dir      string        // the prepared dataset's folder (load it with Load)
	Hash     string        // content hash of the inputs and parameters
	Hit      bool          // found in the cache: nothing was decoded
	Manifest data.Manifest // the dataset's manifest
	Duration time.Duration // wall time of the whole call
	// Counts gives, per split, the number of examples of each class.
	Counts map[string]map[string]int
	// Skipped lists the files left out under SkipBad.
	Skipped []SkippedFile
	// SourceSHA256 is the digest of a zip or downloaded source archive.
	SourceSHA256 string
}

// decodes counts images decoded by Prepare (tests check a cache hit
// decodes nothing).
var decodes atomic.Int64

// Prepare turns an image source into a prepared dataset in the cache:
// uint8 pixels [N, Size, Size, Channels] with int32 labels, a seeded
// stratified split, and per-channel mean and std of the train split in
// Manifest.Normalize.
//
// The source is a folder, a .zip file or an http(s) URL (downloaded into the
// cache and checked against SHA256). Its layout is the fingers naming
// (<uuid>_<N><L|R>.png, classes "0".."5", Meta "hand") or one folder per class
// (class_name/*.png|jpg|jpeg, classes in sorted order), optionally inside
// train/, val/ (or validation/) and test/ folders. Examples in val/ and test/
// keep their split. Examples in train/ stay in train when both val/ and
// test/ exist; otherwise the missing splits are drawn from them with the
// Split fractions. Without split folders every example is split by the
// fractions. Hidden files are ignored; examples are ordered by path.
//
// The dataset is cached under the SHA-256 of every file's path and content
// hash plus every parameter that changes the output, so preparing the same
// inputs again is a hit that decodes nothing. Errors: Invalid for bad
// options, files or layouts (naming the file and what was expected),
// NotFound for a missing source, Unavailable for a failed download, and the
// context's error when ctx ends.
func Prepare(ctx context.Context, opt PrepareOptions) (*PrepareResult, error) {
	start := time.Now()
	p, err := open(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer p.src.Close()
	sums, err := p.fileSums(ctx, 0, len(p.scan.files))
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	res, done, err := p.lookup(sums, start)
	if done || err != nil {
		return res, err
	}
	pix, failed, err := decodeImages(ctx, p.src, p.scan.files, p.opt, p.workers)
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	return p.commit(res, pix, failed, start)
}

// preparation is one Prepare (or one shard of it, or their merge) under
// way: the source open and scanned.
type preparation struct {
	opt     PrepareOptions
	workers int
	cache   *data.Cache
	src     *data.Source
	scan    *scanResult
}

func open(ctx context.Context, opt PrepareOptions) (*preparation, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	cache := data.NewCache(opt.CacheDir)
	src, err := data.OpenSource(ctx, opt.Source, opt.SHA256, cache.DownloadDir(), opt.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	scan, err := scanImages(src, opt.SkipBad)
	if err == nil && opt.Labels == LabelsCountHand {
		err = scan.withHands()
	}
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	return &preparation{opt: opt, workers: workers, cache: cache, src: src, scan: scan}, nil
}

// lookup computes the cache key from every file's content hash and
// returns the cached dataset when there is one (done).
func (p *preparation) lookup(sums []string, start time.Time) (*PrepareResult, bool, error) {
	hash := imagesHash(p.scan, sums, p.opt)
	res := &PrepareResult{Hash: hash, SourceSHA256: p.src.SHA256}
	m, hit, err := p.cache.Lookup(hash)
	if err != nil {
		return nil, false, fmt.Errorf("prepare images: %w", err)
	}
	if !hit {
		return res, false, nil
	}
	res.Hit, res.Dir, res.Manifest = true, p.cache.DatasetDir(hash), m
	labels, err := data.ReadLabels(res.Dir)
	if err != nil {
		return nil, false, fmt.Errorf("prepare images: %w", err)
	}
	res.Counts = countsOf(m, labels)
	if raw, ok := m.Params["skipped"]; ok {
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &res.Skipped)
	}
	res.Duration = time.Since(start)
	return res, true, nil
}

// commit makes the dataset of the decoded pixels (failed[i] set for the
// files left out under SkipBad) and stores it in the cache.
func (p *preparation) commit(res *PrepareResult, pix []uint8, failed []error, start time.Time) (*PrepareResult, error) {
	opt, scan := p.opt, p.scan
	d, skipped, err := assemble(p.src, scan, opt, pix, failed)
	if err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	res.Skipped = append(append([]SkippedFile(nil), scan.skipped...), skipped...)
	d.Manifest.Source = opt.Source
	d.Manifest.Synthetic = opt.Synthetic || scan.synthetic
	d.Manifest.CreatedAt = time.Now().UTC()
	d.Manifest.Params = map[string]any{
		"image":         opt.Image,
		"resize":        ResizeKernel,
		"layout":        scan.layout,
		"split":         opt.Split,
		"split_folders": partNames(scan.folders),
		"seed":          opt.Seed,
		"skip_bad":      opt.SkipBad,
	}
	if len(res.Skipped) > 0 {
		d.Manifest.Params["skipped"] = res.Skipped
	}
	if p.src.SHA256 != "" {
		d.Manifest.Params["source_sha256"] = p.src.SHA256
	}
	if res.Dir, err = p.cache.Commit(res.Hash, d); err != nil {
		return nil, fmt.Errorf("prepare images: %w", err)
	}
	res.Manifest = d.Manifest
	res.Counts = countsOf(d.Manifest, d.Labels)
	res.Duration = time.Since(start)
	return res, nil
}

// fileSums returns the content SHA-256 of the files [lo, hi) of the scan,
// from the cache's index of files hashed before where it can.
func (p *preparation) fileSums(ctx context.Context, lo, hi int) ([]string, error) {
	ix := p.cache.FileHashes(p.src.Key)
	files := p.scan.files[lo:hi]
	sums := make([]string, len(files))
	err := parallel(ctx, p.workers, len(files), func(_, i int) error {
		f := files[i]
		if s, ok := ix.Lookup(f.rel, f.stamp); ok {
			sums[i] = s
			return nil
		}
		r, err := p.src.FS.Open(path.Join(p.src.Root, f.rel))
		if err != nil {
			return errs.Invalidf("%s: cannot read file: %v", p.src.Display(f.rel), err)
		}
		defer r.Close()
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return errs.Invalidf("%s: cannot read file: %v", p.src.Display(f.rel), err)
		}
		sums[i] = hex.EncodeToString(h.Sum(nil))
		ix.Remember(f.rel, f.stamp, sums[i], f.mtime)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ix.Save()
	return sums, nil
}

// imagesHash is the cache key: the SHA-256 over the parameters that change
// the output and the sorted (path, content SHA-256) list of the files.
func imagesHash(scan *scanResult, sums []string, opt PrepareOptions) string {
	params, _ := json.Marshal(struct {
		Kind      string              `json:"kind"`
		Format    int                 `json:"format"`
		Prepare   int                 `json:"prepare"`
		Image     Options             `json:"image"`
		Resize    string              `json:"resize"`
		Split     data.SplitFractions `json:"split"`
		Seed      uint64              `json:"seed"`
		SkipBad   bool                `json:"skip_bad"`
		Synthetic bool                `json:"synthetic"`
		Labels    string              `json:"labels,omitempty"` // empty for the default, so earlier hashes hold
	}{"images", data.FormatVersion, prepareVersion, opt.Image, ResizeKernel, opt.Split, opt.Seed, opt.SkipBad, opt.Synthetic || scan.synthetic,
		strings.TrimPrefix(opt.Labels, LabelsCount)})
	h := sha256.New()
	h.Write(params)
	h.Write([]byte{'\n'})
	for i, f := range scan.files {
		// Paths cannot hold NUL or newline in a meaningful dataset; quoting
		// keeps the encoding unambiguous anyway.
		fmt.Fprintf(h, "%s %s\n", strconv.Quote(f.rel), sums[i])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// decodeImages decodes files, in order, into one pixel array; under
// SkipBad a file that fails has its error in failed and zero pixels.
func decodeImages(ctx context.Context, src *data.Source, files []imageFile, opt PrepareOptions, workers int) ([]uint8, []error, error) {
	n, size := len(files), opt.Image.Len()
	pix := make([]uint8, n*size)
	failed := make([]error, n)
	decoders := make([]imageDecoder, workers)
	var mu sync.Mutex
	done := 0
	err := parallel(ctx, workers, n, func(w, i int) error {
		f := files[i]
		var b []byte
		var err error
		if f.size > MaxFileBytes {
			err = errs.Invalidf("%d bytes: larger than the %d bytes an image file may have", f.size, MaxFileBytes)
		} else if b, err = fs.ReadFile(src.FS, path.Join(src.Root, f.rel)); err != nil {
			err = fmt.Errorf("cannot read file: %w", err)
		} else {
			decodes.Add(1)
			err = decoders[w].decode(b, opt.Image, pix[i*size:(i+1)*size])
		}
		if err != nil {
			err = errs.Invalidf("%s: %s", src.Display(f.rel), reason(err))
			if !opt.SkipBad {
				return err
			}
			failed[i] = err
		}
		if opt.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			done++
			opt.Progress(done, n)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return pix, failed, nil
}

// assemble makes the dataset of every file's pixels, leaving out those
// that failed: labels, meta, the split and the normalisation.
func assemble(src *data.Source, scan *scanResult, opt PrepareOptions, pix []uint8, failed []error) (*data.Dataset, []SkippedFile, error) {
	n, size := len(scan.files), opt.Image.Len()
	var skipped []SkippedFile
	classIndex := map[string]int32{}
	for i, c := range scan.classes {
		classIndex[c] = int32(i)
	}
	d := &data.Dataset{Manifest: data.Manifest{
		Kind:    "images",
		Shape:   opt.Image.Shape(),
		DType:   data.Uint8,
		Classes: scan.classes,
	}}
	var fixed []string
	anyFixed := false
	k := 0
	for i, f := range scan.files {
		if failed[i] != nil {
			skipped = append(skipped, SkippedFile{File: f.rel, Reason: errs.MessageOf(failed[i])})
			continue
		}
		if k != i {
			copy(pix[k*size:(k+1)*size], pix[i*size:(i+1)*size])
		}
		k++
		d.Labels = append(d.Labels, classIndex[f.class])
		meta := map[string]string{"file": f.rel}
		if f.hand != "" {
			meta["hand"] = f.hand
		}
		d.Manifest.Meta = append(d.Manifest.Meta, meta)
		fx := fixedSplit(f.split, scan.folders)
		fixed = append(fixed, fx)
		anyFixed = anyFixed || fx != ""
	}
	if k == 0 {
		return nil, skipped, errs.Invalidf("%s: none of the %d images could be decoded", src.Display("."), n)
	}
	d.U8 = pix[:k*size]
	d.Manifest.Count = k

	frac := opt.Split
	if scan.folders[data.SplitValidation] {
		frac.Validation = 0
	}
	if scan.folders[data.SplitTest] {
		frac.Test = 0
	}
	if !anyFixed {
		fixed = nil
	}
	splits, err := data.Split(d.Labels, fixed, frac, opt.Seed)
	if err != nil {
		return nil, skipped, err
	}
	d.Manifest.Splits = splits
	if len(splits[data.SplitTrain]) == 0 {
		return nil, skipped, errs.Invalidf("%s: %d images leave no training examples after the split; lower the validation and test fractions or add images",
			src.Display("."), k)
	}
	d.Manifest.Normalize = channelStats(d.U8, opt.Image.Channels, size, splits[data.SplitTrain])
	return d, skipped, nil
}

// reason is err's client message, or its text when it has none.
func reason(err error) string {
	if m := errs.MessageOf(err); m != "" {
		return m
	}
	return err.Error()
}

// fixedSplit is the split an example's folder fixes: val/ and test/ always;
// train/ only when both other split folders exist (else the missing splits
// are drawn from it).
func fixedSplit(folder string, folders map[string]bool) string {
	switch folder {
	case data.SplitValidation, data.SplitTest:
		return folder
	case data.SplitTrain:
		if folders[data.SplitValidation] && folders[data.SplitTest] {
			return data.SplitTrain
		}
	}
	return ""
}

// channelStats computes the per-channel mean and standard deviation of the
// pixels (scaled to [0,1]) of the given examples, from exact histograms.
func channelStats(pix []uint8, channels, size int, examples []int) *data.Normalize {
	hist := make([][256]uint64, channels)
	for _, e := range examples {
		px := pix[e*size : (e+1)*size]
		if channels == 1 {
			h := &hist[0]
			for _, v := range px {
				h[v]++
			}
			continue
		}
		for j, v := range px {
			hist[j%channels][v]++
		}
	}
	norm := &data.Normalize{Mean: make([]float32, channels), Std: make([]float32, channels)}
	for c := range hist {
		var n, sum, sq float64
		for v, cnt := range hist[c] {
			x := float64(v) / 255
			n += float64(cnt)
			sum += x * float64(cnt)
			sq += x * x * float64(cnt)
		}
		if n == 0 {
			norm.Mean[c], norm.Std[c] = 0, 1
			continue
		}
		mean := sum / n
		std := math.Sqrt(math.Max(sq/n-mean*mean, 0))
		if std < 1e-6 {
			std = 1 // a constant channel: keep values finite
		}
		norm.Mean[c], norm.Std[c] = float32(mean), float32(std)
	}
	return norm
}

// countsOf counts the examples of each class per split.
func countsOf(m data.Manifest, labels []int32) map[string]map[string]int {
	out := map[string]map[string]int{}
	for split, idx := range m.Splits {
		c := map[string]int{}
		for _, i := range idx {
			if i >= 0 && i < len(labels) && int(labels[i]) < len(m.Classes) {
				c[m.Classes[labels[i]]]++
			}
		}
		out[split] = c
	}
	return out
}

// parallel runs fn(worker, i) for i in [0, n) on up to workers goroutines.
// Results must go to per-index slots, which keeps the output independent of
// the worker count. The first error (the lowest index among those seen)
// stops the rest; so does ctx ending.
func parallel(ctx context.Context, workers, n int, fn func(worker, i int) error) error {
	if workers < 1 {
		workers = 1
	}
	if workers > n {
		workers = max(n, 1)
	}
	var (
		next     atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		firstErr error
		firstIdx = n
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					stop.Store(true)
					return
				}
				if err := fn(w, i); err != nil {
					mu.Lock()
					if i < firstIdx {
						firstIdx, firstErr = i, err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
