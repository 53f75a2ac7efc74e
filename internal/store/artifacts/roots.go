package artifacts

import (
	"cmp"
	"slices"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Roots maps artifact locations to the stores that serve them. Each store
// serves the locations under its root, through its own access checks (an
// os.Root for a local folder), and nothing outside every root is served:
// clients name artifact locations, and a location is never trusted to stay
// where it seems to point. Add every store before the first Resolve.
type Roots struct {
	roots []root // deepest first, so the most specific root wins
}

type root struct {
	loc   Location
	store Store
}

// NewRoots returns the Roots of a server whose own store is own: own serves
// mlflow-artifacts: locations (which clients upload through the server) and
// the locations under its URI. A store whose URI is not a location serves
// the mlflow-artifacts: ones only.
func NewRoots(own Store) *Roots {
	r := &Roots{}
	r.add(Location{Scheme: proxyScheme, Path: "/"}, own)
	_ = r.Add(own)
	return r
}

// Add serves the locations under s's URI from s. Errors: Invalid (the URI
// is not a location).
func (r *Roots) Add(s Store) error {
	loc, err := ParseLocation(s.URI())
	if err != nil {
		return err
	}
	r.add(loc, s)
	return nil
}

func (r *Roots) add(loc Location, s Store) {
	r.roots = append(r.roots, root{loc, s})
	slices.SortStableFunc(r.roots, func(a, b root) int { return cmp.Compare(len(b.loc.Path), len(a.loc.Path)) })
}

// Resolve returns the store that serves uri and uri's path in it, checked by
// ValidatePath. Errors: Invalid (uri is not a clean location, see
// ParseLocation, or lies under the reserved .cairn folder of a root),
// PermissionDenied (uri lies outside every root).
func (r *Roots) Resolve(uri string) (Store, string, error) {
	loc, err := ParseLocation(uri)
	if err != nil {
		return nil, "", err
	}
	for _, rt := range r.roots {
		if rel, ok := loc.Within(rt.loc); ok {
			p, err := artifact.ValidatePath(rel)
			if err != nil {
				return nil, "", errs.Invalidf("artifact location '%s' is inside the server's private folder; expected a path below it", uri)
			}
			return rt.store, p, nil
		}
	}
	return nil, "", errs.E(errs.PermissionDenied, "artifact location '%s' is outside the artifact roots this server serves; "+
		"an operator may add its root to --allowed-artifact-roots", uri)
}

// Stores returns each store once.
func (r *Roots) Stores() []Store {
	var out []Store
	for _, rt := range r.roots {
		if !slices.Contains(out, rt.store) {
			out = append(out, rt.store)
		}
	}
	return out
}
