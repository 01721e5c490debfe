package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config names a bucket and where to reach it. Credentials come from the
// standard AWS chain (environment, shared files, IRSA, instance roles).
type S3Config struct {
	Bucket   string
	Prefix   string // optional key prefix inside the bucket, without a trailing slash
	Endpoint string // e.g. http://127.0.0.1:7070 for versitygw or MinIO; empty for AWS
	Region   string // defaults to us-east-1
	// PathStyle addresses the bucket in the path, which local S3 servers need.
	PathStyle bool
	// PartSize is the multipart part size; objects larger than it are uploaded
	// in parts. Default 16 MiB.
	PartSize int64
	// StorageClass, when set, is applied to every Put (tiers use cheaper classes).
	StorageClass string
	HTTPClient   *http.Client
}

// S3 stores objects in one bucket under an optional prefix.
type S3 struct {
	client *s3.Client
	cfg    S3Config
}

// NewS3 builds a client from the standard credential chain.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if c.Bucket == "" {
		return nil, errors.New("s3: bucket is required")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.PartSize <= 0 {
		c.PartSize = 16 << 20
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	opts := []func(*config.LoadOptions) error{config.WithRegion(c.Region)}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	} else {
		opts = append(opts, config.WithHTTPClient(newS3HTTPClient()))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// No client-side retry budget: after a burst of faults the SDK's
		// token bucket runs dry and stops retrying even single errors,
		// which turned a short outage into minutes of failed reads.
		// Retries stay bounded per request (3 attempts, backoff).
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		// Plain-http test servers cannot take streaming trailing checksums;
		// ask for checksums only where the API requires them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client, cfg: c}, nil
}

// maxIdleConnsPerHost is how many idle connections to the S3 endpoint are
// kept for reuse. The SDK's default of 10 is below what one ingest commit
// uses at once (a file per partition, the log entry, concurrent reads), so
// every commit dialled new connections: 5% of the ingest CPU under load.
const maxIdleConnsPerHost = 128

// newS3HTTPClient is the SDK's HTTP client (its timeouts and TLS settings)
// with more idle connections kept per host.
func newS3HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		t.MaxIdleConns = max(t.MaxIdleConns, maxIdleConnsPerHost)
	})
}

// crc32c is the Castagnoli table, which hash/crc32 computes with the CPU's
// CRC instruction where there is one.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// checksumCRC32C returns the base64 CRC32C of the next n bytes of rs, as
// x-amz-checksum-crc32c wants it, and seeks rs back to where it was.
func checksumCRC32C(rs io.ReadSeeker, n int64) (string, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", fmt.Errorf("checksum body: %w", err)
	}
	h := crc32.New(crc32c)
	if _, err := io.CopyN(h, rs, n); err != nil {
		return "", fmt.Errorf("checksum body: %w", err)
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return "", fmt.Errorf("checksum body: rewind: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// unsignedPayload sends a PutObject's body as UNSIGNED-PAYLOAD instead of
// signing its SHA-256, which was 10% of the lake writer's CPU. The body keeps
// an end-to-end check: the x-amz-checksum-crc32c header, which the signature
// covers and the server verifies against what it received (it answers
// BadDigest otherwise). CRC32C rather than Content-MD5 or SHA-256 because it
// is an order of magnitude cheaper (SSE4.2) and S3, versitygw and MinIO all
// verify it; it is set as a header by us, not left to the SDK, so that it is
// never sent as a streaming trailer, which plain-HTTP servers refuse.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// putObject uploads rs, n bytes, as the body of in in a single request,
// with a CRC32C checksum and an unsigned payload (see unsignedPayload).
func (s *S3) putObject(ctx context.Context, in *s3.PutObjectInput, rs io.ReadSeeker, n int64) error {
	sum, err := checksumCRC32C(rs, n)
	if err != nil {
		return err
	}
	in.ChecksumCRC32C = aws.String(sum)
	in.Body, in.ContentLength = rs, aws.Int64(n)
	_, err = s.client.PutObject(ctx, in, unsignedPayload)
	return err
}

// Client exposes the underlying SDK client for bucket administration in tests and tools.
func (s *S3) Client() *s3.Client { return s.client }

// Bucket is the bucket the store writes to.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// Location names the bucket and prefix, and the endpoint when it is not AWS.
func (s *S3) Location() string {
	return "s3://" + s.cfg.Endpoint + "/" + s.cfg.Bucket + "/" + s.cfg.Prefix
}

func (s *S3) key(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if s.cfg.Prefix == "" {
		return key, nil
	}
	return s.cfg.Prefix + "/" + key, nil
}

func (s *S3) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &k}
	switch {
	case length == 0:
		// A zero-length range is not expressible in HTTP; check existence only.
		if _, err := s.Head(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %s: %w", key, ErrNotExist)
		}
		if isStatus(err, http.StatusRequestedRangeNotSatisfiable) {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	end := int64(-1)
	if out.ContentLength != nil && *out.ContentLength >= 0 {
		end = offset + *out.ContentLength
	}
	return &resumingBody{ctx: ctx, s: s, key: key, k: k, pos: offset, end: end, body: out.Body}, nil
}

// body returns a rewindable reader: the SDK signs and may retry the body, and
// over plain http it cannot stream one it cannot seek.
func body(r io.Reader, size int64) (io.ReadSeeker, int64, error) {
	if rs, ok := r.(io.ReadSeeker); ok && size >= 0 {
		return rs, size, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	if size >= 0 && int64(len(b)) != size {
		return nil, 0, fmt.Errorf("body has %d bytes, want %d", len(b), size)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.PutClass(ctx, key, r, size, s.cfg.StorageClass)
}

// PutClass is Put with the object's storage class (STANDARD_IA,
// GLACIER_IR, ...; empty: the bucket's default), so that the age job can
// keep warm and cold files in cheaper classes.
func (s *S3) PutClass(ctx context.Context, key string, r io.Reader, size int64, class string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if size > s.cfg.PartSize {
		if err := s.putMultipart(ctx, k, r, size, class); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		return nil
	}
	rs, n, err := body(r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &k}
	if class != "" {
		in.StorageClass = types.StorageClass(class)
	}
	if err := s.putObject(ctx, in, rs, n); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// StorageClassOf returns an object's storage class as the server reports
// it ("" where it reports none, which on AWS means STANDARD).
func (s *S3) StorageClassOf(ctx context.Context, key string) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &k})
	if err != nil {
		return "", fmt.Errorf("head %s: %w", key, err)
	}
	return string(out.StorageClass), nil
}

// PutIfAbsent uses If-None-Match: * so the server decides the race. Both 412
// (AWS, versitygw) and 409 ConditionalRequestConflict (a concurrent conditional
// write in flight) mean another writer holds the key.
func (s *S3) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	rs, n, err := body(r, size)
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &k, IfNoneMatch: aws.String("*")}
	if err := s.putObject(ctx, in, rs, n); err != nil {
		if isStatus(err, http.StatusPreconditionFailed) || isStatus(err, http.StatusConflict) {
			return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
		}
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	return nil
}

func (s *S3) putMultipart(ctx context.Context, k string, r io.Reader, size int64, class string) error {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &k}
	if class != "" {
		in.StorageClass = types.StorageClass(class)
	}
	up, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	abort := func(cause error) error {
		// Use a fresh context: the caller's may be what ended the upload.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30e9)
		defer cancel()
		s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &k, UploadId: up.UploadId})
		return cause
	}
	var parts []types.CompletedPart
	buf := make([]byte, s.cfg.PartSize)
	var sent int64
	for num := int32(1); ; num++ {
		n, err := io.ReadFull(r, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return abort(fmt.Errorf("read part %d: %w", num, err))
		}
		out, perr := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.cfg.Bucket, Key: &k, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if perr != nil {
			return abort(fmt.Errorf("upload part %d: %w", num, perr))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		sent += int64(n)
		if err == io.ErrUnexpectedEOF {
			break
		}
	}
	if size >= 0 && sent != size {
		return abort(fmt.Errorf("body has %d bytes, want %d", sent, size))
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: &k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(fmt.Errorf("complete multipart upload: %w", err))
	}
	return nil
}

func (s *S3) Head(ctx context.Context, key string) (ObjectInfo, error) {
	k, err := s.key(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &k})
	if err != nil {
		if isNotFound(err) {
			return ObjectInfo{}, fmt.Errorf("head %s: %w", key, ErrNotExist)
		}
		return ObjectInfo{}, fmt.Errorf("head %s: %w", key, err)
	}
	info := ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength)}
	if out.LastModified != nil {
		info.ModTime = *out.LastModified
	}
	return info, nil
}

func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	full := prefix
	if s.cfg.Prefix != "" {
		full = s.cfg.Prefix + "/" + prefix
	}
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: &full})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if s.cfg.Prefix != "" {
				key = strings.TrimPrefix(key, s.cfg.Prefix+"/")
			}
			if strings.HasSuffix(key, "/") {
				continue // directory markers some servers report
			}
			info := ObjectInfo{Key: key, Size: aws.ToInt64(o.Size)}
			if o.LastModified != nil {
				info.ModTime = *o.LastModified
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &k}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// EnsureBucket creates the bucket when it is missing (dev and test setups).
func (s *S3) EnsureBucket(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err == nil {
		return nil
	}
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.cfg.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || isStatus(err, http.StatusNotFound)
}

func isStatus(err error, code int) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode() == code
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code {
		case http.StatusPreconditionFailed:
			return ae.ErrorCode() == "PreconditionFailed"
		case http.StatusConflict:
			return ae.ErrorCode() == "ConditionalRequestConflict"
		}
	}
	return false
}
