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
