// Package image builds Cairn's OCI image without docker or a registry: two
// reproducible layers (system files: a non-root user, CA certificates,
// /data; and the static binary) on an empty base, written as one archive
// that is both an OCI image layout and a docker save archive, and pushed
// to a registry on request. It is the only importer of
// go-containerregistry, and imports only errs.
package image
