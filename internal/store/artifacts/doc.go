// Package artifacts stores run artifacts as files under a root: a local folder
// (file://, the default) or any S3 endpoint (s3://bucket/prefix). The URI
// scheme picks the backend. Reads and writes stream; nothing buffers a whole
// file. Its stores implement the contract in package artifact, and its Roots
// is the artifact.Resolver that cmd hands the web API. It imports errs,
// artifact and the S3 SDK, which lives here and nowhere else.
package artifacts
