package lake

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/schemas"
)

// Expiry is what a memories file's statistics say of its rows' expires_at
// (issue 16). Files written before the column existed have no nullCount
// for it: they lack the column, and none of their rows expire.
type Expiry struct {
	Column   bool      // the file has the expires_at column
	Rows     int64     // rows with an expiry
	Min, Max time.Time // bounds of those rows' expiries; Max covers its millisecond
}

// ExpiryOf reads a's statistics. A file without statistics is taken to
// have the column and possibly expiring rows from the beginning of time,
// so that nothing is ever shown past its expiry for want of statistics.
func ExpiryOf(a delta.Add) Expiry {
	// Every statement plans over every live file: the statistics of a path
	// (a data file is written once, under a unique name) are parsed once.
	m := expiries.Load()
	if e, ok := m.Load(a.Path); ok {
		return e.(Expiry)
	}
	e := expiryOf(a)
	if expiryCount.Add(1) > maxExpiries {
		// Bounded: files come and go over a process's life; start afresh.
		expiryCount.Store(0)
		expiries.Store(&sync.Map{})
	}
	m.Store(a.Path, e)
	return e
}

// expiries memoizes ExpiryOf by path, up to maxExpiries entries.
var (
	expiries    atomic.Pointer[sync.Map]
	expiryCount atomic.Int64
)

const maxExpiries = 1 << 20

func init() { expiries.Store(&sync.Map{}) }

func expiryOf(a delta.Add) Expiry {
	st, err := a.ParsedStats()
	if err != nil {
		return Expiry{Column: true, Rows: 1, Max: time.Unix(1<<40, 0)}
	}
	nulls, ok := st.NullCount["expires_at"]
	if !ok {
		return Expiry{}
	}
	n, err := strconv.ParseInt(fmt.Sprint(nulls), 10, 64)
	if err != nil || st.NumRecords < 0 {
		return Expiry{Column: true, Rows: 1, Max: time.Unix(1<<40, 0)}
	}
	e := Expiry{Column: true, Rows: st.NumRecords - n}
	if e.Rows <= 0 {
		return Expiry{Column: true}
	}
	e.Max = time.Unix(1<<40, 0) // no max recorded: unbounded
	if s, ok := st.MinValues["expires_at"].(string); ok {
		if t, err := time.Parse(schemas.ExpiryStatLayout, s); err == nil {
			e.Min = t
		}
	}
	if s, ok := st.MaxValues["expires_at"].(string); ok {
		if t, err := time.Parse(schemas.ExpiryStatLayout, s); err == nil {
			e.Max = t.Add(time.Millisecond - time.Microsecond)
		}
	}
	return e
}

// MayHaveExpired reports whether some row of the file can be expired at now.
func (e Expiry) MayHaveExpired(now time.Time) bool { return e.Rows > 0 && !e.Min.After(now) }

// AllExpired reports whether every expiring row of the file is expired at now.
func (e Expiry) AllExpired(now time.Time) bool { return e.Rows > 0 && !e.Max.After(now) }

// ErasuresPrefix is where the erasure log lives, at the lake root
// (lake/erasures).
const ErasuresPrefix = erasures.Prefix
