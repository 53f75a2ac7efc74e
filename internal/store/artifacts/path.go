package artifacts

import (
	"path"
	"slices"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// reserved is the top-level name the local backend keeps its temporary files
// and multipart staging under. It is rejected on every backend so that a tree
// of artifacts means the same on all of them.
const reserved = ".cairn"

// ValidatePath checks an artifact path and returns it cleaned: relative,
// slash-separated, with no "." or empty segments and no trailing slash. The
// root is "" ("." and "./" clean to it). It rejects with errs.Invalid a path that is absolute, holds a
// ".." segment, a backslash or a NUL byte, or starts with the reserved ".cairn".
func ValidatePath(p string) (string, error) {
	const want = "expected a relative slash-separated path under the artifact root"
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return "", errs.Invalidf("artifact path %q contains a NUL byte; %s", p, want)
	case strings.Contains(p, `\`):
		return "", errs.Invalidf("artifact path %q contains a backslash; %s", p, want)
	case strings.HasPrefix(p, "/"):
		return "", errs.Invalidf("artifact path %q is absolute; %s", p, want)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return "", errs.Invalidf("artifact path %q contains \"..\"; %s", p, want)
		}
	}
	clean := path.Clean(p)
	if clean == "." {
		return "", nil
	}
	if first, _, _ := strings.Cut(clean, "/"); first == reserved {
		return "", errs.Invalidf("artifact path %q is under the reserved %q; %s", p, reserved, want)
	}
	return clean, nil
}

// validateFile is ValidatePath for a path that must name a file or directory,
// not the root.
func validateFile(p string) (string, error) {
	clean, err := ValidatePath(p)
	if err == nil && clean == "" {
		err = errs.Invalidf("artifact path %q names the root; expected a file path", p)
	}
	return clean, err
}

// validatePartNumber checks a multipart part number against S3's range.
func validatePartNumber(n int) error {
	if n < 1 || n > maxParts {
		return errs.Invalidf("part number %d is out of range; expected 1 to %d", n, maxParts)
	}
	return nil
}

// sortParts returns a copy of parts sorted by number, checking that there is
// at least one and that the numbers are valid and distinct.
func sortParts(parts []Part) ([]Part, error) {
	if len(parts) == 0 {
		return nil, errs.Invalidf("multipart upload has no parts; expected at least one")
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b Part) int { return a.Number - b.Number })
	for i, p := range sorted {
		if err := validatePartNumber(p.Number); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].Number == p.Number {
			return nil, errs.Invalidf("part number %d is listed twice; expected distinct numbers", p.Number)
		}
	}
	return sorted, nil
}

// join joins a cleaned directory and a name.
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
