package artifacts

import (
	"slices"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// reserved is the top-level name the local backend keeps its temporary files
// and multipart staging under (see artifact.Reserved).
const reserved = artifact.Reserved

// validateFile is artifact.ValidatePath for a path that must name a file or directory,
// not the root.
func validateFile(p string) (string, error) {
	clean, err := artifact.ValidatePath(p)
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
