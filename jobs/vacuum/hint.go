package vacuum

import "encoding/json"

func parseHintVersion(b []byte) int64 {
	var h struct {
		Version *int64 `json:"version"`
	}
	if json.Unmarshal(b, &h) != nil || h.Version == nil || *h.Version < 0 {
		return -1
	}
	return *h.Version
}
