package lake

import (
	"errors"
	"io"

	"github.com/parquet-go/parquet-go"
)

// EachValue calls fn with every value of a column chunk, in order, page by
// page (a null is a null Value; a repeated column gives each element). The
// values point into the page being read: fn must copy what it keeps (String
// does).
func EachValue(cc parquet.ColumnChunk, fn func(parquet.Value)) error {
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 1024)
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = eachPageValue(page, buf, fn)
		parquet.Release(page)
		if err != nil {
			return err
		}
	}
}

func eachPageValue(page parquet.Page, buf []parquet.Value, fn func(parquet.Value)) error {
	vals := page.Values()
	for {
		n, err := vals.ReadValues(buf)
		for _, v := range buf[:n] {
			fn(v)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
