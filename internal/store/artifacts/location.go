package artifacts

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// proxyScheme names artifacts a Cairn (or MLflow) server proxies to its own
// store: mlflow-artifacts:/<path>.
const proxyScheme = "mlflow-artifacts"

// Location is an artifact URI parsed and cleaned: what ParseLocation accepts,
// in one spelling. Two URIs that name the same place give equal Locations.
type Location struct {
	Scheme string // "file", "s3" or "mlflow-artifacts"
	Bucket string // the bucket of an s3 location; "" otherwise
	// Path is absolute, slash-separated and clean: no "." or ".." segments,
	// no empty segments, no trailing slash ("/" is the top). For s3 it is
	// the key prefix with a leading slash.
	Path string
}

// ParseLocation parses and cleans an artifact URI: file:///abs/path (or
// file://localhost/abs/path, or a plain absolute path), s3://bucket/prefix
// or mlflow-artifacts:/path (any host after mlflow-artifacts:// is the
// tracking server's and is dropped). It rejects with errs.Invalid what could
// be read as a different place by the next program that parses it: a query,
// a fragment or ";" params, user info, a port, a ".." segment, a backslash
// or control character, a percent-encoded '.', '/', '\', '?', '#', ';' or
// control character (encoded once or more), a relative path, a plain path
// with a '%', and other schemes. A "." or empty segment is dropped.
func ParseLocation(uri string) (Location, error) {
	bad := func(why string) (Location, error) {
		return Location{}, errs.Invalidf("artifact location '%s' %s", uri, why)
	}
	switch {
	case uri == "":
		return bad("is empty; expected file:///abs/path, s3://bucket/prefix or mlflow-artifacts:/path")
	case strings.ContainsAny(uri, "#;"):
		return bad("can't include fragments (#) or params (;)")
	case strings.Contains(uri, "?"):
		return bad("can't include a query (?)")
	case strings.Contains(uri, `\`):
		return bad(`contains a backslash; expected '/' between path segments`)
	case strings.ContainsFunc(uri, unicode.IsControl):
		return bad("contains a control character")
	}
	if why := badEscape(uri); why != "" {
		return bad(why)
	}
	scheme, ok := uriScheme(uri)
	if !ok {
		switch {
		case !strings.HasPrefix(uri, "/"):
			return bad("is not an absolute path; expected file:///abs/path, s3://bucket/prefix or mlflow-artifacts:/path")
		case strings.Contains(uri, "%"):
			return bad("is a plain path with a '%'; write it as a file:// URI")
		}
		p, err := cleanPath(uri)
		if err != "" {
			return bad(err)
		}
		return Location{Scheme: "file", Path: p}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad("is not a valid URI")
	}
	if u.User != nil {
		return bad("can't include user info (user@)")
	}
	port := u.Port() != "" || strings.HasSuffix(u.Host, ":")
	loc := Location{Scheme: scheme}
	switch scheme {
	case "file":
		if u.Opaque != "" || port || (u.Host != "" && !strings.EqualFold(u.Host, "localhost")) || !strings.HasPrefix(u.Path, "/") {
			return bad("names no absolute local path; expected file:///abs/path")
		}
	case "s3":
		if u.Opaque != "" || u.Host == "" || port {
			return bad("names no bucket; expected s3://bucket/prefix")
		}
		loc.Bucket = u.Host
		if u.Path == "" {
			u.Path = "/"
		}
	case proxyScheme:
		if u.Opaque != "" {
			return bad("names no absolute path; expected mlflow-artifacts:/path")
		}
		if u.Path == "" {
			u.Path = "/"
		}
	default:
		return bad("has unsupported scheme '" + scheme + "'; supported: a plain path, file:///abs/path, s3://bucket/prefix, mlflow-artifacts:/path")
	}
	p, why := cleanPath(u.Path)
	if why != "" {
		return bad(why)
	}
	loc.Path = p
	return loc, nil
}

// uriScheme returns the lowercased scheme of uri, if it has one.
func uriScheme(uri string) (string, bool) {
	s := artifact.Scheme(uri)
	return s, s != ""
}

// badEscape says what is wrong with uri when decoding it, once or again
// and again, brings out a byte that changes how a path splits or resolves:
// "%2e%2e" and "%252e%252e" alike. It returns "" when there is none;
// malformed escapes are for url.Parse to reject.
func badEscape(uri string) string {
	s := uri
	for range 10 {
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			return ""
		}
		for _, r := range d {
			if c := string(r); (strings.ContainsAny(c, `./\?#;`) || unicode.IsControl(r)) && strings.Count(d, c) > strings.Count(s, c) {
				return fmt.Sprintf("contains a percent-encoded %q; write '.', '/' and the like plainly", r)
			}
		}
		s = d
	}
	return "is percent-encoded too many times"
}

// cleanPath cleans an absolute slash path, dropping "." and empty segments;
// it says what is wrong when a segment is "..".
func cleanPath(p string) (string, string) {
	var segs []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			return "", `contains ".."; expected a path without parent references`
		default:
			segs = append(segs, seg)
		}
	}
	return "/" + strings.Join(segs, "/"), ""
}

// String returns the location as a URI, which ParseLocation reads back as l.
func (l Location) String() string {
	switch l.Scheme {
	case "s3":
		u := url.URL{Scheme: "s3", Host: l.Bucket, Path: l.Path}
		return strings.TrimSuffix(u.String(), "/")
	case proxyScheme:
		u := url.URL{Path: l.Path}
		return proxyScheme + ":" + u.EscapedPath()
	}
	u := url.URL{Scheme: "file", Path: l.Path}
	return u.String()
}

// Within returns l's path relative to root ("" for root itself) and true
// when l is root or lies below it, and false when it does not: another
// scheme or bucket, or a path that only shares a string prefix.
func (l Location) Within(root Location) (string, bool) {
	if l.Scheme != root.Scheme || l.Bucket != root.Bucket {
		return "", false
	}
	if root.Path == "/" {
		return strings.TrimPrefix(l.Path, "/"), true
	}
	if l.Path == root.Path {
		return "", true
	}
	if rel, ok := strings.CutPrefix(l.Path, root.Path+"/"); ok {
		return rel, true
	}
	return "", false
}
