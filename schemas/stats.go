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
}

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *MemoryRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *QuantizedMemoryRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *EntityRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }

// SortKey is the order of rows in a data file: (system_id, created_at).
func (r *RelationRow) SortKey() (string, time.Time) { return r.SystemID, r.CreatedAt }
