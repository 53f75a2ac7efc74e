package pipeline

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxOutputBytes caps the outputs file a task writes: outputs are small
// values; data goes to the output folder.
const MaxOutputBytes = 1 << 20

// ParseOutputs reads the values a task wrote to $CAIRN_OUTPUTS: one
// "key=value" per line, or a multi-line value as
//
//	key<<DELIMITER
//	line one
//	line two
//	DELIMITER
//
// Blank lines and lines starting with # are ignored; a later key wins.
func ParseOutputs(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, MaxOutputBytes+1))
	sc.Buffer(make([]byte, 64<<10), MaxOutputBytes+1)
	n := 0
	total := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		total += len(line) + 1
		if total > MaxOutputBytes {
			return nil, fmt.Errorf("outputs exceed %d bytes: write data to $CAIRN_OUTPUTS_DIR instead", MaxOutputBytes)
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			start := n
			var lines []string
			closed := false
			for sc.Scan() {
				n++
				total += len(sc.Text()) + 1
				if sc.Text() == delim {
					closed = true
					break
				}
				lines = append(lines, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("outputs line %d: %s<<%s is never closed by a line %q", start, k, delim, delim)
			}
			if !nameRE.MatchString(k) {
				return nil, fmt.Errorf("outputs line %d: %q is not an output name", start, k)
			}
			out[k] = strings.Join(lines, "\n")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !nameRE.MatchString(k) {
			return nil, fmt.Errorf("outputs line %d: expected name=value, got %q", n, line)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read outputs: %w", err)
	}
	return out, nil
}

// WriteOutputs writes values in the format ParseOutputs reads.
func WriteOutputs(w io.Writer, values map[string]string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := values[k]
		var err error
		if strings.ContainsAny(v, "\r\n") {
			var b [8]byte
			_, _ = rand.Read(b[:])
			delim := "CAIRN_EOF_" + hex.EncodeToString(b[:])
			_, err = fmt.Fprintf(w, "%s<<%s\n%s\n%s\n", k, delim, v, delim)
		} else {
			_, err = fmt.Fprintf(w, "%s=%s\n", k, v)
		}
		if err != nil {
			return fmt.Errorf("write outputs: %w", err)
		}
	}
	return nil
}

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
