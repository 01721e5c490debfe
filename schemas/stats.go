package schemas

import "time"

// The string columns whose min, max and null count a data file's Delta add
// action records, so that every engine skips files: system_id first (the
// lake is not partitioned by system; files are sorted by it, so a file's
// range is narrow), then id, kind and project. created_at's bounds come
// with every add too.

// StatStrings calls fn with each of the row's recorded string columns.
func (r *MemoryRow) StatStrings(fn func(col string, v *string)) {
	fn("system_id", &r.SystemID)
	fn("id", &r.ID)
	fn("kind", &r.Kind)
	fn("project", r.Project)
	fn("expires_at", expiryStat(r.ExpiresAt))
}

// ExpiryStatLayout is how expires_at is written in file statistics: UTC to
// the millisecond, fixed width, so that the string order is the time order
// (the min and max are then true bounds when cut down to the millisecond;
// a reader takes a max as covering the millisecond it names). A file whose
// statistics have no nullCount for expires_at was written before the
// column existed: it has no expiring rows.
const ExpiryStatLayout = "2006-01-02T15:04:05.000Z"

func expiryStat(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Truncate(time.Millisecond).Format(ExpiryStatLayout)
	return &s
}

// StatStrings calls fn with each of the row's recorded string columns.
func (r *EntityRow) StatStrings(fn func(col string, v *string)) {
	fn("system_id", &r.SystemID)
	fn("id", &r.ID)
	fn("entity_type", &r.EntityType)
}

// StatStrings calls fn with each of the row's recorded string columns.
func (r *RelationRow) StatStrings(fn func(col string, v *string)) {
	fn("system_id", &r.SystemID)
	fn("id", &r.ID)
	fn("relation_type", &r.RelationType)
}

// StatStrings calls fn with each of the row's recorded string columns.
func (r *QuantizedMemoryRow) StatStrings(fn func(col string, v *string)) {
	fn("system_id", &r.SystemID)
	fn("id", &r.ID)
	fn("kind", &r.Kind)
	fn("project", r.Project)
	fn("expires_at", expiryStat(r.ExpiresAt))
}

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *MemoryRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *QuantizedMemoryRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *EntityRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *RelationRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }
