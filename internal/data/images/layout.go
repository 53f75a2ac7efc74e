package images

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Image folder layouts Prepare understands.
const (
	// LayoutFingers is a flat folder of <uuid>_<N><L|R>.png files: label N
	// (class "0".."5"), hand L or R kept in the example's Meta["hand"].
	LayoutFingers = "fingers"
	// LayoutClasses is one folder per class: class_name/*.png|jpg|jpeg.
	LayoutClasses = "classes"
)

// layoutHelp is what an error says the source should look like.
const layoutHelp = "expected <uuid>_<N><L|R>.png files (the fingers naming), or class folders class_name/*.png|jpg|jpeg, " +
	"either directly or inside train/ and test/ (or val/) folders"

// fingersClasses are the fingers labels: the finger count.
var fingersClasses = []string{"0", "1", "2", "3", "4", "5"}

// Fingers label sets (PrepareOptions.Labels).
const (
	LabelsCount     = "count"      // classes "0".."5"
	LabelsCountHand = "count_hand" // classes "0L", "0R", ..., "5R"
)

// HandClasses tells whether classes are finger counts with the hand
// ("0L".."5R"): flipping such an image left-right changes its class.
func HandClasses(classes []string) bool {
	if len(classes) == 0 {
		return false
	}
	for _, c := range classes {
		if len(c) != 2 || c[0] < '0' || c[0] > '5' || (c[1] != 'L' && c[1] != 'R') {
			return false
		}
	}
	return true
}

// withHands makes the class of each fingers file its count and hand.
func (r *scanResult) withHands() error {
	if r.layout != LayoutFingers {
		return errs.Invalidf("labels %s needs the fingers naming <uuid>_<N><L|R>.png; this source has class folders", LabelsCountHand)
	}
	for i := range r.files {
		r.files[i].class += r.files[i].hand
	}
	r.classes = nil
	for _, c := range fingersClasses {
		r.classes = append(r.classes, c+"L", c+"R")
	}
	return nil
}

var fingersName = regexp.MustCompile(`^(.+)_([0-5])([LRlr])\.(?i:png|jpe?g)$`)

// imageFile is one image of a source, in a folder layout.
type imageFile struct {
	rel   string // slash path relative to the source's data folder
	split string // split fixed by its folder ("" when split by fractions)
	class string
	hand  string // fingers only: "L" or "R"
	size  int64
	stamp string // size and modification time (and CRC for zip entries): the file-hash cache key
	mtime time.Time
}

// SkippedFile is a file left out of a dataset under SkipBad, and why.
type SkippedFile struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// scanResult is what a source holds, before anything is decoded.
type scanResult struct {
	layout    string
	files     []imageFile // sorted by rel
	classes   []string
	folders   map[string]bool // split folders present: SplitTrain, SplitValidation, SplitTest
	skipped   []SkippedFile
	synthetic bool
}

func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// scanImages lists the images of a source and works out its layout and
// labels. With skipBad, files that are not images or do not fit the layout
// are skipped and reported; otherwise they are an error naming the file.
func scanImages(src *data.Source, skipBad bool) (*scanResult, error) {
	res := &scanResult{folders: map[string]bool{}}
	top, err := readDir(src, src.Root)
	if err != nil {
		return nil, err
	}
	for _, e := range top.all {
		if e.Name() == data.SyntheticMarker {
			res.synthetic = true
		}
	}
	bad := func(rel, reason string) error {
		if skipBad {
			res.skipped = append(res.skipped, SkippedFile{File: rel, Reason: reason})
			return nil
		}
		return errs.Invalidf("%s: %s", src.Display(rel), reason)
	}

	// Parts: the split folders when there are any, else the top itself.
	type part struct{ dir, split string }
	var parts []part
	for _, e := range top.visible {
		if s := data.SplitOfFolder(e.Name()); s != "" && e.IsDir() {
			if res.folders[s] {
				return nil, errs.Invalidf("%s: two folders for the %s split; expected one of train/, val/ (or validation/), test/ each", src.Display("."), s)
			}
			res.folders[s] = true
			parts = append(parts, part{e.Name(), s})
		}
	}
	if len(parts) > 0 {
		for _, e := range top.visible {
			if data.SplitOfFolder(e.Name()) != "" && e.IsDir() {
				continue
			}
			if e.IsDir() {
				return nil, errs.Invalidf("%s: folder %s beside split folders %s; %s", src.Display("."), e.Name(), strings.Join(partNames(res.folders), ", "), layoutHelp)
			}
			if err := bad(e.Name(), "file beside the split folders: "+layoutHelp); err != nil {
				return nil, err
			}
		}
	} else {
		parts = []part{{".", ""}}
	}

	classSet := map[string]bool{}
	for _, p := range parts {
		d := top
		if p.dir != "." {
			if d, err = readDir(src, path.Join(src.Root, p.dir)); err != nil {
				return nil, err
			}
		}
		var images, dirs, others []fs.DirEntry
		for _, e := range d.visible {
			switch {
			case e.IsDir():
				dirs = append(dirs, e)
			case isImageName(e.Name()):
				images = append(images, e)
			default:
				others = append(others, e)
			}
		}
		layout := ""
		switch {
		case len(images) > 0 && len(dirs) > 0:
			return nil, errs.Invalidf("%s: both image files (%s) and folders (%s/); %s",
				src.Display(p.dir), images[0].Name(), dirs[0].Name(), layoutHelp)
		case len(images) > 0:
			layout = LayoutFingers
		case len(dirs) > 0:
			layout = LayoutClasses
		}
		for _, e := range others {
			if err := bad(path.Join(p.dir, e.Name()), "not an image (expected .png, .jpg or .jpeg)"); err != nil {
				return nil, err
			}
		}
		if layout == "" {
			continue
		}
		if res.layout != "" && res.layout != layout {
			return nil, errs.Invalidf("%s: %s layout, but the other split folders use the %s layout; %s", src.Display(p.dir), layout, res.layout, layoutHelp)
		}
		res.layout = layout
		switch layout {
		case LayoutFingers:
			for _, e := range images {
				rel := path.Join(p.dir, e.Name())
				m := fingersName.FindStringSubmatch(e.Name())
				if m == nil {
					if err := bad(rel, "file name does not follow the fingers naming <uuid>_<N><L|R>.png (N = 0..5)"); err != nil {
						return nil, err
					}
					continue
				}
				f, err := fileOf(src, rel, e)
				if err != nil {
					return nil, err
				}
				f.split, f.class, f.hand = p.split, m[2], strings.ToUpper(m[3])
				res.files = append(res.files, f)
			}
		case LayoutClasses:
			for _, c := range dirs {
				n := 0
				err := walkImages(src, path.Join(p.dir, c.Name()), func(rel string, e fs.DirEntry) error {
					if !isImageName(e.Name()) {
						return bad(rel, "not an image (expected .png, .jpg or .jpeg)")
					}
					f, err := fileOf(src, rel, e)
					if err != nil {
						return err
					}
					f.split, f.class = p.split, c.Name()
					res.files = append(res.files, f)
					n++
					return nil
				})
				if err != nil {
					return nil, err
				}
				if n == 0 && !skipBad {
					return nil, errs.Invalidf("%s: class folder has no .png, .jpg or .jpeg images", src.Display(path.Join(p.dir, c.Name())))
				}
				if n > 0 {
					classSet[c.Name()] = true
				}
			}
		}
	}
	if len(res.files) == 0 {
		return nil, errs.Invalidf("%s: no images found; %s", src.Display("."), layoutHelp)
	}
	sort.Slice(res.files, func(a, b int) bool { return res.files[a].rel < res.files[b].rel })
	if res.layout == LayoutFingers {
		res.classes = fingersClasses
	} else {
		for c := range classSet {
			res.classes = append(res.classes, c)
		}
		sort.Strings(res.classes)
	}
	if len(parts) > 1 || parts[0].split != "" {
		hasTrain := false
		for _, f := range res.files {
			if f.split == data.SplitTrain {
				hasTrain = true
				break
			}
		}
		if !hasTrain {
			return nil, errs.Invalidf("%s: split folders %s but no train/ images; a dataset needs training examples",
				src.Display("."), strings.Join(partNames(res.folders), ", "))
		}
	}
	return res, nil
}

func partNames(folders map[string]bool) []string {
	var names []string
	for _, s := range []string{data.SplitTrain, data.SplitValidation, data.SplitTest} {
		if folders[s] {
			names = append(names, s+"/")
		}
	}
	return names
}

// dirListing is a folder's entries, all of them and the visible ones.
type dirListing struct{ all, visible []fs.DirEntry }

func readDir(src *data.Source, dir string) (dirListing, error) {
	var l dirListing
	entries, err := fs.ReadDir(src.FS, dir)
	if err != nil {
		return l, errs.Invalidf("%s: cannot list folder: %v", src.Display(relTo(src, dir)), err)
	}
	l.all = entries
	for _, e := range entries {
		if !data.Hidden(e.Name()) {
			if e.Type()&fs.ModeSymlink != 0 {
				fi, err := fs.Stat(src.FS, path.Join(dir, e.Name()))
				if err != nil {
					return l, errs.Invalidf("%s: broken link: %v", src.Display(relTo(src, path.Join(dir, e.Name()))), err)
				}
				e = fs.FileInfoToDirEntry(fi)
			}
			l.visible = append(l.visible, e)
		}
	}
	return l, nil
}

// walkImages calls fn for every visible file under dir (a path relative to
// the data folder), in lexical order, following links to files.
func walkImages(src *data.Source, dir string, fn func(rel string, e fs.DirEntry) error) error {
	l, err := readDir(src, path.Join(src.Root, dir))
	if err != nil {
		return err
	}
	for _, e := range l.visible {
		rel := path.Join(dir, e.Name())
		if e.IsDir() {
			if err := walkImages(src, rel, fn); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue // sockets, devices and the like are never data
		}
		if err := fn(rel, e); err != nil {
			return err
		}
	}
	return nil
}

func relTo(src *data.Source, dir string) string {
	if src.Root == "." {
		return dir
	}
	r := strings.TrimPrefix(dir, src.Root)
	r = strings.TrimPrefix(r, "/")
	if r == "" {
		return "."
	}
	return r
}

// fileOf stats a file for its size and the stamp that keys its cached hash.
func fileOf(src *data.Source, rel string, e fs.DirEntry) (imageFile, error) {
	fi, err := e.Info()
	if err != nil {
		return imageFile{}, errs.Invalidf("%s: cannot read file: %v", src.Display(rel), err)
	}
	f := imageFile{rel: rel, size: fi.Size(), mtime: fi.ModTime()}
	if zh, ok := fi.Sys().(*zip.FileHeader); ok {
		f.stamp = fmt.Sprintf("%d:%08x:%d", zh.UncompressedSize64, zh.CRC32, zh.Modified.UnixNano())
	} else {
		f.stamp = fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	}
	return f, nil
}
