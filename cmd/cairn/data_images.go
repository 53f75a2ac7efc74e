package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
)

// newPrepareImagesCmd is 'cairn data prepare images'.
func newPrepareImagesCmd() *cobra.Command {
	def := images.DefaultPrepareOptions()
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Prepare an image folder, zip or URL: decode, grayscale/RGB, resize, split, normalise, cache",
		Long: `Decodes every PNG or JPEG image of a source, converts it to grayscale (--channels 1)
or RGB (3), resizes it to --size x --size with a Catmull-Rom kernel and writes the
compact dataset (uint8 pixels and int32 labels, plus manifest.json) into the cache,
under the SHA-256 of every file's path and content and of the parameters: a second
run with the same inputs is a cache hit that decodes nothing.

The source is a folder, a .zip file, or an http(s) URL of a .zip (downloaded into
the cache, checked against --sha256 when given). Layouts:
  <uuid>_<N><L|R>.png          the fingers naming: class N (0-5), hand L/R kept as metadata
  class_name/*.png|jpg|jpeg    one folder per class
either directly or inside train/ and test/ (or val/) folders, which fix those
examples' split; the splits without a folder are drawn, stratified and seeded,
with the --val and --test fractions. Hidden files are ignored. A file that is not
an image or does not decode is an error naming it, unless --skip-bad.`,
		Example: `  cairn data prepare images --source ../shared/data/fingers --size 64
  cairn data prepare images --source fingers.zip --size 32 --channels 1 --json
  cairn data prepare images --source https://example.org/fingers.zip --sha256 9f86d0...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt := images.DefaultPrepareOptions()
			fl := cmd.Flags()
			opt.Source, _ = fl.GetString("source")
			opt.SHA256, _ = fl.GetString("sha256")
			opt.Image.Size, _ = fl.GetInt("size")
			opt.Image.Channels, _ = fl.GetInt("channels")
			opt.Image.Crop, _ = fl.GetBool("crop")
			opt.Labels, _ = fl.GetString("labels")
			opt.Split.Validation, _ = fl.GetFloat64("val")
			opt.Split.Test, _ = fl.GetFloat64("test")
			opt.Seed, _ = fl.GetUint64("seed")
			opt.Workers, _ = fl.GetInt("workers")
			opt.CacheDir, _ = fl.GetString("cache")
			opt.SkipBad, _ = fl.GetBool("skip-bad")
			opt.Synthetic, _ = fl.GetBool("synthetic")
			if opt.Source == "" {
				return usageError{fmt.Errorf("--source is required (a folder, a .zip file or an http(s) URL)")}
			}
			bar := newTermBar(cmd.ErrOrStderr(), "decoding")
			opt.Progress = bar.update
			res, err := images.Prepare(cmd.Context(), opt)
			bar.finish()
			if err != nil {
				return err
			}
			if opt.SHA256 == "" && strings.HasPrefix(opt.Source, "http") && res.SourceSHA256 != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s was not checked; pin it with --sha256 %s\n", opt.Source, res.SourceSHA256)
			}
			return printImagePrepare(cmd, res)
		},
	}
	fl := cmd.Flags()
	fl.String("source", "", "image folder, .zip file or http(s) URL of a .zip")
	fl.String("sha256", "", "expected SHA-256 (hex) of a .zip or downloaded source")
	fl.Int("size", def.Image.Size, "output width and height in pixels")
	fl.String("labels", images.LabelsCount, "fingers naming: count (classes 0-5) or count_hand (0L..5R: models also tell the hand)")
	fl.Int("channels", def.Image.Channels, "1 (grayscale) or 3 (RGB)")
	fl.Bool("crop", false, "centre-crop non-square images to a square first (default: stretch)")
	fl.Float64("val", def.Split.Validation, "validation share of the examples no val/ folder fixes")
	fl.Float64("test", def.Split.Test, "test share of the examples no test/ folder fixes")
	fl.Uint64("seed", def.Seed, "split seed")
	fl.Int("workers", 0, "decoding workers (default: every core, "+strconv.Itoa(runtime.NumCPU())+" here)")
	fl.String("cache", def.CacheDir, "folder of prepared datasets")
	fl.Bool("skip-bad", false, "skip and report files that are not images or do not decode, instead of failing")
	fl.Bool("synthetic", false, "mark the dataset synthetic (automatic for 'cairn data synth fingers' output)")
	fl.Bool("json", false, "print JSON")
	return cmd
}

func printImagePrepare(cmd *cobra.Command, res *images.PrepareResult) error {
	m := res.Manifest
	splits := []string{data.SplitTrain, data.SplitValidation, data.SplitTest}
	if wantJSON(cmd) {
		return printJSON(cmd.OutOrStdout(), map[string]any{
			"dir": res.Dir, "hash": res.Hash, "hit": res.Hit, "duration_ms": float64(res.Duration.Microseconds()) / 1000,
			"count": m.Count, "shape": m.Shape, "classes": m.Classes, "counts": res.Counts,
			"normalize": m.Normalize, "synthetic": m.Synthetic, "source": m.Source,
			"source_sha256": res.SourceSHA256, "skipped": res.Skipped, "params": m.Params,
		})
	}
	w := cmd.OutOrStdout()
	cache := "miss: prepared"
	if res.Hit {
		cache = "hit"
	}
	fmt.Fprintf(w, "dataset    %s\n", res.Dir)
	fmt.Fprintf(w, "hash       %s\n", res.Hash)
	fmt.Fprintf(w, "cache      %s in %s\n", cache, res.Duration.Round(10*time.Microsecond))
	if m.Synthetic {
		fmt.Fprintf(w, "synthetic  YES: generated stand-in images, not real photos\n")
	}
	fmt.Fprintf(w, "source     %s", m.Source)
	if res.SourceSHA256 != "" {
		fmt.Fprintf(w, " (sha256 %s)", res.SourceSHA256)
	}
	fmt.Fprintln(w)
	layout, _ := m.Params["layout"].(string)
	fmt.Fprintf(w, "images     %d, %s, %s layout\n", m.Count, shapeString(m.Shape), layout)
	if m.Normalize != nil {
		fmt.Fprintf(w, "normalize  mean %s, std %s (train split)\n", floats(m.Normalize.Mean), floats(m.Normalize.Std))
	}
	fmt.Fprintln(w)
	header := append([]string{"split"}, m.Classes...)
	header = append(header, "total")
	var rows [][]string
	totals := make([]int, len(m.Classes)+1)
	for _, s := range splits {
		row := []string{s}
		sum := 0
		for i, c := range m.Classes {
			n := res.Counts[s][c]
			row = append(row, strconv.Itoa(n))
			totals[i] += n
			sum += n
		}
		totals[len(m.Classes)] += sum
		rows = append(rows, append(row, strconv.Itoa(sum)))
	}
	all := []string{"all"}
	for _, n := range totals {
		all = append(all, strconv.Itoa(n))
	}
	if err := printTable(w, header, append(rows, all)); err != nil {
		return err
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "\nskipped %d bad files:\n", len(res.Skipped))
		for i, s := range res.Skipped {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more (--json lists them all)\n", len(res.Skipped)-20)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", s.File, s.Reason)
		}
	}
	return nil
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, s := range shape {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, "x")
}

func floats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'f', 4, 32)
	}
	return strings.Join(parts, "/")
}

// termBar is a terminal progress bar, created on the first update; on a
// writer that is not a terminal it does nothing.
type termBar struct {
	w    io.Writer
	desc string
	tty  bool
	bar  *progressbar.ProgressBar
}

func newTermBar(w io.Writer, desc string) *termBar {
	return &termBar{w: w, desc: desc, tty: isTerminal(w)}
}

func (p *termBar) update(done, total int) {
	if !p.tty {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = p.bar.Set(done)
}

func (p *termBar) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newSynthFingersCmd is 'cairn data synth fingers'.
func newSynthFingersCmd() *cobra.Command {
	def := images.DefaultSynthHandsOptions()
	cmd := &cobra.Command{
		Use:   "fingers",
		Short: "Draw synthetic hands showing 0-5 fingers, as PNGs in the fingers naming",
		Long: `Writes --n grayscale PNGs <uuid>_<N><L|R>.png of drawn hands (a palm with N raised
fingers at varied angles, on a dark noisy background, at random positions and
scales; left hands mirror right hands), balanced over the classes and identical
for a seed. They stand in for the real fingers photos in offline demos and tests:
a hidden marker file in the folder makes every dataset prepared from it say
synthetic.`,
		Example: `  cairn data synth fingers --out ./synth-fingers --n 600 --seed 1
  cairn data prepare images --source ./synth-fingers --size 32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt := images.DefaultSynthHandsOptions()
			fl := cmd.Flags()
			opt.Out, _ = fl.GetString("out")
			opt.N, _ = fl.GetInt("n")
			opt.Seed, _ = fl.GetUint64("seed")
			opt.Size, _ = fl.GetInt("size")
			opt.Workers, _ = fl.GetInt("workers")
			if opt.Out == "" {
				return usageError{fmt.Errorf("--out is required (the folder to write the images into)")}
			}
			start := time.Now()
			res, err := images.GenerateHands(cmd.Context(), opt)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if wantJSON(cmd) {
				return printJSON(w, map[string]any{"dir": res.Dir, "files": res.Files, "counts": res.Counts, "synthetic": true})
			}
			fmt.Fprintf(w, "wrote %d SYNTHETIC hand images (%dx%d) to %s in %s\n", res.Files, opt.Size, opt.Size, res.Dir, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(w, "per finger count: %s\n", countsLine(res.Counts))
			fmt.Fprintf(w, "next: cairn data prepare images --source %s\n", res.Dir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.String("out", "", "folder to write the images into (created if needed)")
	fl.Int("n", def.N, "number of images")
	fl.Uint64("seed", def.Seed, "random seed (same seed, same images)")
	fl.Int("size", def.Size, "image width and height in pixels")
	fl.Int("workers", 0, "drawing workers (default: every core)")
	fl.Bool("json", false, "print JSON")
	return cmd
}

func countsLine(c map[string]int) string {
	var parts []string
	for i := 0; i <= 5; i++ {
		k := strconv.Itoa(i)
		parts = append(parts, fmt.Sprintf("%s: %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
