package artifacts

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Part sizes S3 accepts: every part but the last must be at least minPartSize.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
)

// Options configures Open. Only the S3 backend reads it; the package never
// reads the environment itself (cmd maps AWS_ENDPOINT_URL and friends here).
type Options struct {
	// S3Endpoint is the S3 API base URL, e.g. "http://minio:9000"; empty means AWS.
	S3Endpoint string
	// S3Region is the signing region; empty takes the region of the AWS
	// default chain, and us-east-1 when that has none.
	S3Region string
	// S3ForcePathStyle addresses a bucket as endpoint/bucket rather than
	// bucket.endpoint, as MinIO and moto need.
	S3ForcePathStyle bool
	// S3AccessKeyID and S3SecretAccessKey are static credentials; when they
	// are empty the AWS default credential chain is used.
	S3AccessKeyID     string
	S3SecretAccessKey string
	// Logger receives the S3 SDK's warnings and debug lines; nil discards them.
	Logger *slog.Logger
	// PartSize is the size of the parts in which Put uploads a large stream to
	// S3, and so the most memory one Put holds: 5 MiB to 5 GiB.
	PartSize int64
}

// DefaultOptions returns 8 MiB parts and no S3 endpoint, region or
// credentials, so that S3 takes them from the AWS defaults.
func DefaultOptions() Options {
	return Options{PartSize: 8 << 20}
}

// Open returns the store rooted at uri. The scheme picks the backend:
//
//	/data/artifacts, ./artifacts, file:///data/artifacts   a local folder, created if missing
//	s3://bucket, s3://bucket/prefix                         an S3 bucket, optionally under a prefix
//
// Both backends implement Multipart. Errors: Invalid (an unsupported scheme, a
// malformed URI or bad options), Internal (the folder cannot be created).
func Open(ctx context.Context, uri string, opts Options) (Store, error) {
	s, err := open(ctx, uri, opts)
	if err != nil {
		return nil, fmt.Errorf("open artifact store: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, uri string, opts Options) (Store, error) {
	if uri == "" {
		return nil, errs.Invalidf("artifact root is empty; expected a path, file:///abs/path or s3://bucket/prefix")
	}
	if _, ok := uriScheme(uri); !ok {
		dir, err := filepath.Abs(uri)
		if err != nil {
			return nil, fmt.Errorf("resolve %q: %w", uri, err)
		}
		return openLocal(dir)
	}
	loc, err := ParseLocation(uri)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "file":
		return openLocal(filepath.FromSlash(loc.Path))
	case "s3":
		return openS3(ctx, loc, opts)
	}
	return nil, errs.Invalidf("artifact root '%s' is served by a tracking server; expected a path, file:///abs/path or s3://bucket/prefix", uri)
}
