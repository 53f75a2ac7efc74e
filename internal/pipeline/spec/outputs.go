package spec

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
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
