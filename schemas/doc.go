// Package schemas defines Akosha's records (memories, entities and
// relations), their JSON form, their validation, and the Parquet rows and
// Delta Lake schemas of the tables that store them.
//
// A record goes through the same steps wherever it comes from:
//
//	var m schemas.Memory
//	err := json.Unmarshal(data, &m) // *SyntaxError or *ValidationError
//	m.Normalize()                   // defaults, UTC, microseconds
//	err = m.Validate(time.Now())    // *ValidationError or ValidationErrors
//	row := m.Row()                  // for a data file in partition
//	                                // tier=hot/day=<Day(m.CreatedAt)>
//
// The JSON decoder is hand-written for speed (the 384-float embedding
// dominates ingest) and behaves like encoding/json on everything else; see
// json.go.
package schemas
