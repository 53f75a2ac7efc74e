package artifacts

import "github.com/cairn-mlops/cairn/internal/artifact"

// The store contract lives in package artifact, so that the code that uses
// a store need not import its backends; these names are the same types.
type (
	Info      = artifact.Info
	Store     = artifact.Store
	Part      = artifact.Part
	Multipart = artifact.Multipart
	Sweeper   = artifact.Sweeper
)

// The backends and Roots implement the contract; a change to it that they
// miss fails here, not in cmd.
var (
	_ artifact.Store     = (*localStore)(nil)
	_ artifact.Multipart = (*localStore)(nil)
	_ artifact.Sweeper   = (*localStore)(nil)
	_ artifact.Store     = (*s3Store)(nil)
	_ artifact.Multipart = (*s3Store)(nil)
	_ artifact.Resolver  = (*Roots)(nil)
)
