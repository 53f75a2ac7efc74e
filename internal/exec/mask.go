package exec

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces each secret with this in task logs and outputs.
const Mask = "***"

// minSecretLen is the shortest value masked: shorter ones would blot out
// ordinary words and numbers.
const minSecretLen = 6

// secretName matches environment variable names whose values are secrets.
var secretName = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE_KEY)`)

// Secrets returns the values in env (KEY=VALUE entries) that must not show
// in logs: those of variables named like secrets, and extra, longest first,
// without duplicates or values too short to mask.
func Secrets(env []string, extra ...string) []string {
	var out []string
	add := func(v string) {
		if len(v) >= minSecretLen && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && secretName.MatchString(k) {
			add(v)
		}
	}
	for _, v := range extra {
		add(v)
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// MaskString replaces every secret in s with Mask.
func MaskString(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, Mask)
	}
	return s
}

// MaskWriter writes to w with every secret replaced by Mask, as CI systems
// mask known secret values in job logs. A secret split across writes is
// still masked: a tail that may begin one is held back until the next
// write or Close. It is safe for concurrent use (stdout and stderr share it).
type MaskWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
	pending []byte
}

// NewMaskWriter returns a writer masking secrets (see Secrets) on their
// way to w.
func NewMaskWriter(w io.Writer, secrets []string) *MaskWriter {
	m := &MaskWriter{w: w}
	for _, s := range secrets {
		if s != "" {
			m.secrets = append(m.secrets, []byte(s))
		}
	}
	return m
}

// Write implements io.Writer; it reports len(p) written when the masked
// bytes reached w.
func (m *MaskWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	buf := append(m.pending, p...)
	for _, s := range m.secrets {
		buf = bytes.ReplaceAll(buf, s, []byte(Mask))
	}
	hold := m.partial(buf)
	if _, err := m.w.Write(buf[:len(buf)-hold]); err != nil {
		m.pending = nil
		return 0, err
	}
	m.pending = append([]byte(nil), buf[len(buf)-hold:]...)
	return len(p), nil
}

// partial returns the length of the longest tail of b that begins a secret.
func (m *MaskWriter) partial(b []byte) int {
	longest := 0
	for _, s := range m.secrets {
		for n := min(len(s)-1, len(b)); n > longest; n-- {
			if bytes.HasSuffix(b, s[:n]) {
				longest = n
				break
			}
		}
	}
	return longest
}

// Close writes what is held back. It does not close w.
func (m *MaskWriter) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return nil
	}
	_, err := m.w.Write(m.pending)
	m.pending = nil
	return err
}
