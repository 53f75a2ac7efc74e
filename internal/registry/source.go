package registry

import (
	"context"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// ValidateSource rejects, in MLflow's words, sources that would let a client
// point a version at the server's own files, as MLflow does: a local path
// must lie inside the local artifact folder of the run named by runID, and
// any other source must have an absolute, normalised path (no ".." or "."
// even when %-encoded). CreateModelVersion calls it. Errors: Invalid,
// NotFound (no run runID).
func (s *Service) ValidateSource(ctx context.Context, source, runID string) error {
	scheme, host, p := splitURI(source)
	remoteHost := host != "" && host != "." && !strings.HasPrefix(host, "localhost") && !strings.HasPrefix(host, "127.0.0.1")
	if scheme == "file" && remoteHost {
		return errs.Invalidf("Invalid model version source: '%s'. %s is not a valid remote uri: a file:// source must name this machine", source, source)
	}
	if scheme == "" || scheme == "file" {
		if runID != "" && s.runs != nil {
			run, err := s.runs.FindRunByID(ctx, runID)
			if err != nil {
				return err
			}
			if as, ah, ap := splitURI(run.Info.ArtifactURI); as == "" || as == "file" && (ah == "" || ah == "localhost" || ah == "127.0.0.1") {
				if as == "" {
					ap = run.Info.ArtifactURI
				}
				if scheme == "" {
					p = source
				}
				dir, src := path.Clean(unquote(ap, false)), path.Clean(unquote(p, false))
				if path.IsAbs(src) && (src == dir || strings.HasPrefix(src, dir+"/") || dir == "/") {
					return nil
				}
			}
		}
		return errs.Invalidf("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", source)
	}
	decoded := source
	for {
		u := unquote(decoded, true)
		if u == decoded {
			break
		}
		decoded = u
	}
	_, _, p = splitURI(decoded)
	p = strings.TrimRight(multiSlash.ReplaceAllString(p, "/"), "/")
	// A ".." anywhere in the decoded source is refused, not only in its path:
	// behind an encoded '#' the parsed path ends before the traversal.
	if strings.ContainsRune(p, 0) || !strings.HasPrefix(p, "/") || path.Clean(p) != p || slices.Contains(strings.Split(decoded, "/"), "..") {
		return errs.Invalidf("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
	}
	return nil
}

var multiSlash = regexp.MustCompile(`/+`)

// splitURI splits a URI the way Python's urllib.parse.urlparse does, for the
// parts source validation needs: a scheme (lowercased), a host and a path.
// It never fails.
func splitURI(u string) (scheme, host, p string) {
	rest := u
	if i := strings.IndexByte(u, ':'); i > 0 && isScheme(u[:i]) {
		scheme, rest = strings.ToLower(u[:i]), u[i+1:]
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		host, rest = rest[:end], rest[end:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if c := strings.LastIndexByte(host, ':'); c >= 0 && !strings.Contains(host[c:], "]") {
			host = host[:c]
		}
		host = strings.ToLower(host)
	}
	if end := strings.IndexAny(rest, "?#"); end >= 0 {
		rest = rest[:end]
	}
	return scheme, host, rest
}

func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// unquote decodes %XX escapes, and with plus '+' as a space, like Python's
// unquote and unquote_plus: malformed escapes are left as they are.
func unquote(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// resolveSource returns where a source's files are, and the logged model a
// models:/m-<id> source names.
func (s *Service) resolveSource(ctx context.Context, source string) (string, *tracking.LoggedModel, error) {
	switch {
	case strings.HasPrefix(source, "runs:/"):
		loc, err := s.runLocation(ctx, source)
		return loc, nil, err
	case strings.HasPrefix(source, "models:/"):
		unable := func(err error) error {
			if k := errs.KindOf(err); k != errs.NotFound && k != errs.Invalid {
				return err
			}
			return errs.Invalidf("Unable to fetch model from model URI source artifact location '%s'. Error: %s", source, errs.MessageOf(err))
		}
		ref := strings.TrimRight(strings.TrimPrefix(source, "models:/"), "/")
		if strings.HasPrefix(ref, "m-") && !strings.ContainsAny(ref, "/@") {
			if s.runs == nil {
				return source, nil, nil
			}
			m, err := s.runs.FindLoggedModelByID(ctx, ref)
			if err != nil {
				return "", nil, unable(err)
			}
			return m.ArtifactURI, m, nil
		}
		v, err := s.Resolve(ctx, source)
		if err != nil {
			return "", nil, unable(err)
		}
		loc, err := s.location(ctx, v)
		return loc, nil, err
	}
	return source, nil, nil
}

// runLocation resolves runs:/<run_id>/<path> to the run's artifact URI plus
// path. A run that does not exist (yet) leaves the URI as it is: MLflow
// accepts such a source and resolves it when the files are fetched.
func (s *Service) runLocation(ctx context.Context, uri string) (string, error) {
	rest := strings.TrimLeft(strings.TrimPrefix(uri, "runs:/"), "/")
	runID, rel, _ := strings.Cut(rest, "/")
	if runID == "" {
		return "", errs.Invalidf("Invalid model version source: '%s': expected runs:/<run_id>/<path>", uri)
	}
	if s.runs == nil {
		return uri, nil
	}
	run, err := s.runs.FindRunByID(ctx, runID)
	if errs.KindOf(err) == errs.NotFound {
		return uri, nil
	}
	if err != nil {
		return "", err
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return run.Info.ArtifactURI, nil
	}
	return strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + rel, nil
}
