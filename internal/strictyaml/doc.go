// Package strictyaml is what Cairn's spec languages (pipelines, sweeps)
// share to read YAML strictly: exactly one document, decoded to a node tree
// that keeps its lines, and problems that say where they are. It imports
// only the YAML library.
package strictyaml
