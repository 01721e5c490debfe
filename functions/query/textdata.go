package query

import (
	"bytes"
	"context"
	"fmt"

	"github.com/akosha/akosha/functions/query/search"
)

// textFile returns the decoded text columns of one data file.
func (v *vectorState) textFile(ctx context.Context, key string, size int64) (*search.TextData, func(), error) {
	return v.texts.Get(ctx, key, func(ctx context.Context) (*search.TextData, int64, func(), error) {
		b, err := v.f.cache.ReadAll(ctx, key, size)
		if err != nil {
			return nil, 0, nil, err
		}
		d, err := search.ReadTextData(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", key, err)
		}
		return d, d.Bytes(), nil, nil
	})
}
