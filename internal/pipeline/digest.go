package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// digest hashes a task's output values and the files under dir: names,
// sizes and contents (symbolic links by their target), so two tasks that
// produced the same results have the same digest.
func digest(values map[string]string, dir string) (string, error) {
	h := sha256.New()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "v %q %q\n", k, values[k])
	}
	if dir == "" {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %q %q\n", rel, target)
		case d.IsDir():
			fmt.Fprintf(h, "d %q\n", rel)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			fh := sha256.New()
			n, err := io.Copy(fh, f)
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "f %q %d %x\n", rel, n, fh.Sum(nil))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest outputs: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
