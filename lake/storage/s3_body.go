package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// bodyResumes bounds how often one read re-requests the rest of an object.
const bodyResumes = 4

// resumingBody is the body of an S3 GET that survives being cut short.
// The SDK retries a request until its headers arrive; a body truncated or
// reset after that would fail the whole read (a snapshot refresh reading
// tens of commits, a data file fetch). Lake objects never change once
// written, so reading the rest with a ranged GET from where the body broke
// off is always safe, and the caller sees one complete stream.
type resumingBody struct {
	ctx    context.Context
	s      *S3
	key    string // the caller's key, for errors
	k      string // the full object key
	pos    int64  // the next byte's offset in the object
	end    int64  // one past the last byte wanted; -1: not known
	body   io.ReadCloser
	tries  int
	closed bool
}

// Remaining is how many bytes are left to read, -1 when the server did not
// say (ReadAll sizes its buffer by it).
func (b *resumingBody) Remaining() int64 {
	if b.end < 0 {
		return -1
	}
	return max(b.end-b.pos, 0)
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.pos += int64(n)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (b.end < 0 || b.pos >= b.end):
			return n, io.EOF
		case errors.Is(err, io.EOF):
			// A clean close before Content-Length: the same as a cut.
			err = io.ErrUnexpectedEOF
		}
		if n > 0 {
			// Hand over what arrived; the next Read resumes.
			if rerr := b.resume(err); rerr != nil {
				b.body = errBody{rerr}
			}
			return n, nil
		}
		if rerr := b.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

// resume re-requests the object from pos, after cause broke the body.
func (b *resumingBody) resume(cause error) error {
	b.body.Close()
	if b.tries >= bodyResumes || b.ctx.Err() != nil {
		return fmt.Errorf("get %s at byte %d: %w", b.key, b.pos, cause)
	}
	b.tries++
	select {
	case <-b.ctx.Done():
		return fmt.Errorf("get %s at byte %d: %w", b.key, b.pos, cause)
	case <-time.After(time.Duration(b.tries*b.tries) * 20 * time.Millisecond):
	}
	rng := fmt.Sprintf("bytes=%d-", b.pos)
	if b.end >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", b.pos, b.end-1)
	}
	out, err := b.s.client.GetObject(b.ctx, &s3.GetObjectInput{Bucket: &b.s.cfg.Bucket, Key: &b.k, Range: aws.String(rng)})
	if err != nil {
		return fmt.Errorf("get %s at byte %d (after %v): %w", b.key, b.pos, cause, err)
	}
	b.body = out.Body
	return nil
}

func (b *resumingBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.body.Close()
}

// errBody is a body that fails every read: a resume that failed after
// some bytes were already handed over.
type errBody struct{ err error }

func (e errBody) Read([]byte) (int, error) { return 0, e.err }
func (e errBody) Close() error             { return nil }
