// Package artifact is the contract of an artifact store, for the code that
// uses one without choosing it (the web API, use cases): the Store and
// Multipart interfaces, listing entries, how a path is checked
// (ValidatePath), and a Resolver from artifact locations to stores. The
// backends (a local folder, S3) are in store/artifacts, which cmd wires
// in. It imports only errs.
package artifact
