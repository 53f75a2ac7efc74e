package artifacts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// maxBufferedPart is the largest part UploadPart accepts from a reader that
// cannot seek: S3 needs a part's length up front, so such a part is read into
// memory first. A seekable reader (an *os.File, a *bytes.Reader) streams.
const maxBufferedPart = 64 << 20

// s3Store keeps artifacts as the objects of a bucket, under an optional key
// prefix. Directories are the common prefixes of keys.
type s3Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // cleaned, no trailing slash; "" is the bucket's root
	partSize int
	bufs     sync.Pool // of *[]byte, partSize long
	uri      string
}

var _ Multipart = (*s3Store)(nil)

// openS3 makes the client for loc, s3://bucket/prefix. It sends no request.
func openS3(ctx context.Context, loc Location, opts Options) (*s3Store, error) {
	prefix, err := artifact.ValidatePath(strings.TrimPrefix(loc.Path, "/"))
	if err != nil {
		return nil, err
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultOptions().PartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, errs.Invalidf("S3 part size %d is out of range; expected %d (5 MiB) to %d (5 GiB)", partSize, minPartSize, int64(maxPartSize))
	}
	var load []func(*config.LoadOptions) error
	if opts.S3Region != "" {
		load = append(load, config.WithRegion(opts.S3Region))
	}
	if opts.S3AccessKeyID != "" {
		creds := credentials.NewStaticCredentialsProvider(opts.S3AccessKeyID, opts.S3SecretAccessKey, "")
		load = append(load, config.WithCredentialsProvider(creds))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	load = append(load, config.WithLogger(sdkLogger{logger}))
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, &errs.Error{Kind: errs.Invalid, Message: "cannot load the AWS configuration: " + err.Error(), Err: err}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.S3Endpoint)
		}
		o.UsePathStyle = opts.S3ForcePathStyle
		// Objects put in parts have no whole-object checksum to validate:
		// without this every Get of one logs that it skipped validation.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	s := &s3Store{
		client:   client,
		bucket:   loc.Bucket,
		prefix:   prefix,
		partSize: int(partSize),
		uri:      loc.String(),
	}
	s.bufs.New = func() any {
		b := make([]byte, s.partSize)
		return &b
	}
	return s, nil
}

// URI implements Store.
func (s *s3Store) URI() string { return s.uri }

// key returns the object key of the cleaned path p.
func (s *s3Store) key(p string) string {
	switch {
	case s.prefix == "":
		return p
	case p == "":
		return s.prefix
	}
	return s.prefix + "/" + p
}

// Put implements Store. It reads r a part at a time: a stream that fits in one
// part goes up with one PutObject, a longer one as a multipart upload, which
// is aborted if anything fails, so the old object stays until the new one is
// whole.
func (s *s3Store) Put(ctx context.Context, p string, r io.Reader) error {
	p, err := validateFile(p)
	if err != nil {
		return fmt.Errorf("put artifact: %w", err)
	}
	bufp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bufp)
	buf := *bufp
	r = ctxReader{ctx, r}
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           aws.String(s.key(p)),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		err = s3Error(p, err)
	case err == nil:
		err = s.putParts(ctx, p, r, buf)
	}
	if err != nil {
		return fmt.Errorf("put artifact %q: %w", p, err)
	}
	return nil
}

// putParts uploads buf, which is full, and the rest of r as a multipart
// upload to p, reusing buf for every part.
func (s *s3Store) putParts(ctx context.Context, p string, r io.Reader, buf []byte) (err error) {
	key := aws.String(s.key(p))
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: key})
	if err != nil {
		return s3Error(p, err)
	}
	id := created.UploadId
	defer func() {
		if err != nil {
			s.abort(ctx, key, id)
		}
	}()
	var parts []types.CompletedPart
	for n := len(buf); ; {
		if len(parts) == maxParts {
			return errs.E(errs.TooLarge, "artifact %q exceeds %d parts of %d bytes", p, maxParts, len(buf))
		}
		number := aws.Int32(int32(len(parts) + 1))
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        &s.bucket,
			Key:           key,
			UploadId:      id,
			PartNumber:    number,
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return s3Error(p, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: number})
		n, err = io.ReadFull(r, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             key,
		UploadId:        id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return s3Error(p, err)
}

// abort aborts an upload on a failure path, even when ctx is already done.
// Its own error is dropped: the caller reports the failure that led here, and
// a bucket lifecycle rule can clean what an abort could not.
func (s *s3Store) abort(ctx context.Context, key, id *string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: key, UploadId: id})
}

// Get implements Store.
func (s *s3Store) Get(ctx context.Context, p string) (io.ReadCloser, Info, error) {
	p, err := validateFile(p)
	if err != nil {
		return nil, Info{}, fmt.Errorf("get artifact: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(p))})
	if err != nil {
		return nil, Info{}, fmt.Errorf("get artifact: %w", s3Error(p, err))
	}
	info := Info{Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
	return out.Body, info, nil
}

// List implements Store. Keys ending in "/" (folder markers some tools make)
// are not listed as files.
func (s *s3Store) List(ctx context.Context, dir string) ([]Info, error) {
	dir, err := artifact.ValidatePath(dir)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	prefix := s.key(dir)
	if prefix != "" {
		prefix += "/"
	}
	var infos []Info
	add := func(name string, info Info) {
		if name == "" || strings.Contains(name, "/") || dir == "" && name == reserved {
			return
		}
		info.Path = join(dir, name)
		infos = append(infos, info)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:    &s.bucket,
		Prefix:    &prefix,
		Delimiter: aws.String("/"),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list artifacts in %q: %w", dir, s3Error(dir, err))
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			add(name, Info{IsDir: true})
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			add(name, Info{Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Path, b.Path) })
	return infos, nil
}

// Delete implements Store: it deletes the object at p and every object under
// p + "/", a thousand per request.
func (s *s3Store) Delete(ctx context.Context, p string) error {
	p, err := validateFile(p)
	if err != nil {
		return fmt.Errorf("delete artifact: %w", err)
	}
	if err := s.delete(ctx, p); err != nil {
		return fmt.Errorf("delete artifact %q: %w", p, err)
	}
	return nil
}

func (s *s3Store) delete(ctx context.Context, p string) error {
	key := s.key(p)
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return s3Error(p, err)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:  &s.bucket,
		Prefix:  aws.String(key + "/"),
		MaxKeys: aws.Int32(1000),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s3Error(p, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s3Error(p, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("%d objects not deleted, first %q: %s: %s",
				len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// CreateMultipart implements Multipart.
func (s *s3Store) CreateMultipart(ctx context.Context, p string) (string, error) {
	p, err := validateFile(p)
	if err != nil {
		return "", fmt.Errorf("create multipart upload: %w", err)
	}
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket,
		Key:    aws.String(s.key(p)),
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload for %q: %w", p, s3Error(p, err))
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart implements Multipart. A part from a reader that cannot seek is
// read into memory first, and rejected with TooLarge past 64 MiB.
func (s *s3Store) UploadPart(ctx context.Context, p, id string, number int, r io.Reader) (string, error) {
	p, err := validateFile(p)
	if err == nil {
		err = validatePartNumber(number)
	}
	if err == nil && id == "" {
		err = errs.NotFoundf("multipart upload %q to %q not found", id, p)
	}
	if err != nil {
		return "", fmt.Errorf("upload part: %w", err)
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, maxBufferedPart+1))
		if err != nil {
			return "", fmt.Errorf("upload part %d of %q: %w", number, p, err)
		}
		if len(b) > maxBufferedPart {
			return "", fmt.Errorf("upload part: %w", errs.E(errs.TooLarge,
				"part %d of %q is over %d bytes; expected a smaller part or a seekable stream", number, p, maxBufferedPart))
		}
		body = bytes.NewReader(b)
	}
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:     &s.bucket,
		Key:        aws.String(s.key(p)),
		UploadId:   &id,
		PartNumber: aws.Int32(int32(number)),
		Body:       body,
	})
	if err != nil {
		return "", fmt.Errorf("upload part %d of %q: %w", number, p, s3Error(p, err))
	}
	return aws.ToString(out.ETag), nil
}

// CompleteMultipart implements Multipart.
func (s *s3Store) CompleteMultipart(ctx context.Context, p, id string, parts []Part) error {
	p, err := validateFile(p)
	if err == nil {
		parts, err = sortParts(parts)
	}
	if err == nil && id == "" {
		err = errs.NotFoundf("multipart upload %q to %q not found", id, p)
	}
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	completed := make([]types.CompletedPart, len(parts))
	for i, part := range parts {
		completed[i] = types.CompletedPart{ETag: aws.String(part.ETag), PartNumber: aws.Int32(int32(part.Number))}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             aws.String(s.key(p)),
		UploadId:        &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload to %q: %w", p, s3Error(p, err))
	}
	return nil
}

// AbortMultipart implements Multipart.
func (s *s3Store) AbortMultipart(ctx context.Context, p, id string) error {
	p, err := validateFile(p)
	if err == nil && id == "" {
		err = errs.NotFoundf("multipart upload %q to %q not found", id, p)
	}
	if err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	_, err = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &s.bucket,
		Key:      aws.String(s.key(p)),
		UploadId: &id,
	})
	if err != nil {
		return fmt.Errorf("abort multipart upload to %q: %w", p, s3Error(p, err))
	}
	return nil
}

// s3Error gives an S3 failure about path p its kind, keeping the SDK's error
// as the cause. It returns other errors (nil, a context's error, an unknown
// failure, which KindOf calls Internal) as they are.
func s3Error(p string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	kind, msg := errs.Internal, ""
	var (
		api    smithy.APIError
		status interface{ HTTPStatusCode() int }
		send   *smithyhttp.RequestSendError
	)
	code := ""
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	switch {
	case code == "NoSuchKey" || code == "NotFound":
		kind, msg = errs.NotFound, fmt.Sprintf("artifact %q not found", p)
	case code == "NoSuchUpload":
		kind, msg = errs.NotFound, fmt.Sprintf("multipart upload to %q not found", p)
	case code == "InvalidPart" || code == "InvalidPartOrder" || code == "EntityTooSmall":
		kind, msg = errs.Invalid, fmt.Sprintf("multipart upload to %q: %s; expected the uploaded parts with their ETags, all but the last at least 5 MiB", p, api.ErrorMessage())
	case code == "NoSuchBucket":
		kind, msg = errs.Unavailable, "the artifact bucket does not exist"
	case errors.As(err, &send):
		kind, msg = errs.Unavailable, "the artifact store cannot be reached"
	case errors.As(err, &status) && status.HTTPStatusCode() == 404:
		kind, msg = errs.NotFound, fmt.Sprintf("artifact %q not found", p)
	case errors.As(err, &status) && (status.HTTPStatusCode() >= 500 || status.HTTPStatusCode() == 429 || status.HTTPStatusCode() == 403):
		kind, msg = errs.Unavailable, "the artifact store is unavailable"
	}
	if kind == errs.Internal {
		return err
	}
	return &errs.Error{Kind: kind, Message: msg, Err: err}
}

// sdkLogger sends the SDK's log lines to a slog.Logger.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}
