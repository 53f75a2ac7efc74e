package web

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/cors"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// guard refuses what a web page on another site could make a browser send:
//
//   - a Host that is not this server's (DNS rebinding: a page whose name
//     now resolves to 127.0.0.1 is same-origin with itself, so only the Host
//     header still names it). IP literals, localhost, the listen host and the
//     AllowedHosts are accepted; a name cannot be rebound onto an IP literal.
//   - a state-changing request from a browser on another origin (Origin or
//     Sec-Fetch-Site, through net/http's CrossOriginProtection), unless the
//     origin is in AllowedOrigins, which also get CORS headers;
//   - a state-changing POST whose Content-Type a browser may send across
//     sites without a preflight (none, text/plain, a form or multipart). PUT,
//     PATCH and DELETE always need a preflight, which only AllowedOrigins get.
//
// Refusals come before authentication, so a browser's cached credentials
// never make them pass.
type guard struct {
	listenHost string // the listen address's host when it is a name, lowercase
	hosts      []AllowedHost
	cop        *http.CrossOriginProtection
	cors       *cors.Cors // nil without AllowedOrigins
	access     func(*http.Request) Access
}

// ParseOrigin checks that s is a browser origin, "scheme://host[:port]" with
// nothing after it, and returns it normalised. Errors: Invalid.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errs.Invalidf("invalid origin '%s': expected scheme://host[:port], e.g. https://notebook.example.com", s)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// AllowedHost is one --allowed-hosts entry.
type AllowedHost struct {
	Name     string // lowercase; "" with Wildcard matches every host
	Wildcard bool   // Name is a suffix: "*.example.com" matches a.example.com
	Port     string // "" matches any port
}

// ParseAllowedHost parses one --allowed-hosts entry: a host name or an IP,
// either with a port, "*.suffix" for every name under suffix, or "*" for any
// host. Errors: Invalid.
func ParseAllowedHost(s string) (AllowedHost, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	if h == "*" {
		return AllowedHost{Wildcard: true}, nil
	}
	var a AllowedHost
	if name, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return AllowedHost{}, errs.Invalidf("invalid allowed host '%s': the port must be a number from 1 to 65535", s)
		}
		h, a.Port = name, port
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		h, a.Wildcard = rest, true
	}
	a.Name = strings.TrimSuffix(h, ".")
	if a.Name == "" || strings.ContainsAny(a.Name, "/@?#*\\ []") {
		return AllowedHost{}, errs.Invalidf("invalid allowed host '%s': expected a name (cairn.example.com), name:port, *.example.com or *", s)
	}
	return a, nil
}

// matches reports whether host (lowercase, no port) and port are allowed by a.
func (a AllowedHost) matches(host, port string) bool {
	if a.Port != "" && a.Port != port {
		return false
	}
	if a.Wildcard {
		return a.Name == "" || strings.HasSuffix(host, "."+a.Name)
	}
	return host == a.Name
}

func newGuard(opts Options, access func(*http.Request) Access) *guard {
	g := &guard{cop: http.NewCrossOriginProtection(), access: access}
	if host, _, err := net.SplitHostPort(opts.Addr); err == nil && net.ParseIP(host) == nil {
		g.listenHost = strings.ToLower(host)
	}
	for _, h := range opts.AllowedHosts {
		if h, err := ParseAllowedHost(h); err == nil {
			g.hosts = append(g.hosts, h)
		} else {
			opts.Logger.Error("allowed host ignored", "err", err)
		}
	}
	var origins []string
	for _, o := range opts.AllowedOrigins {
		o, err := ParseOrigin(o)
		if err == nil {
			err = g.cop.AddTrustedOrigin(o)
		}
		if err != nil {
			opts.Logger.Error("allowed origin ignored", "err", err)
			continue
		}
		origins = append(origins, o)
	}
	if len(origins) > 0 {
		g.cors = cors.New(cors.Options{
			AllowedOrigins: origins,
			AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-Id"},
			ExposedHeaders: []string{"X-Request-Id", "Cairn-Model-Version", "Retry-After"},
			MaxAge:         600,
		})
	}
	return g
}

// wrap runs next behind the guard's checks; refused requests get an error in
// MLflow's format.
func (g *guard) wrap(next http.Handler) http.Handler {
	checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.check(r); err != nil {
			api.Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
	var h http.Handler = checked
	if g.cors != nil {
		h = g.cors.Handler(checked) // answers allowed origins' preflights itself
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.checkHost(r.Host); err != nil {
			api.Error(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (g *guard) check(r *http.Request) error {
	if err := g.cop.Check(r); err != nil {
		from := r.Header.Get("Origin")
		if from == "" {
			from = "a page on another site (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
		} else {
			from = "'" + from + "'"
		}
		return errs.E(errs.PermissionDenied, "cross-origin %s from %s refused: this server takes changes only from its own pages "+
			"and the origins in --allowed-origins", r.Method, from)
	}
	if r.Method == http.MethodPost && g.access(r) >= Write {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil || corsSafelisted(mt) {
			got := "none"
			if ct != "" {
				got = "'" + ct + "'"
			}
			return errs.E(errs.Unsupported, "POST %s needs Content-Type: application/json (got %s); "+
				"a web page on another site could send this type without asking", r.URL.Path, got)
		}
	}
	return nil
}

// corsSafelisted reports whether a browser sends the media type mt across
// sites without a preflight request.
func corsSafelisted(mt string) bool {
	switch strings.ToLower(mt) {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// checkHost accepts a request's Host when it is empty (HTTP/1.0), an IP
// literal, localhost or a name under .localhost, the listen host, or an
// allowed host.
func (g *guard) checkHost(hostport string) error {
	if hostport == "" {
		return nil
	}
	host, port := strings.ToLower(hostport), ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	switch {
	case net.ParseIP(host) != nil, host == "localhost", strings.HasSuffix(host, ".localhost"), host == g.listenHost:
		return nil
	}
	for _, a := range g.hosts {
		if a.matches(host, port) {
			return nil
		}
	}
	return errs.E(errs.PermissionDenied, "Host '%s' is not allowed: this server answers to IP addresses, localhost, "+
		"its listen address and the names in --allowed-hosts (a guard against DNS rebinding); "+
		"add --allowed-hosts %s if this is the server's own name", hostport, host)
}
