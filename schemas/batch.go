package schemas

// Batch is an ingest request body split into its parts: the batch's
// system_id and each record's raw JSON, so that every record can be decoded
// and validated on its own and a bad one reported by its index.
type Batch struct {
	SystemID string
	Records  [][]byte // sub-slices of the input; valid while it is
}

// SplitBatch reads {"system_id": "...", "records": [ {...}, ... ]} without
// decoding the records. Unknown top-level keys are skipped. Malformed JSON,
// a missing records array or a non-string system_id is an error: the whole
// request is malformed, not one record.
func SplitBatch(data []byte) (Batch, error) {
	var b Batch
	d := decoder{data: data, record: "batch"}
	d.ws()
	seenRecords := false
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "system_id":
			if d.null() {
				return nil
			}
			s, err := d.str("system_id")
			b.SystemID = s
			return err
		case "records":
			seenRecords = true
			b.Records = b.Records[:0]
			return d.array(func() error {
				start := d.pos
				if err := d.skip(1); err != nil {
					return err
				}
				b.Records = append(b.Records, data[start:d.pos])
				return nil
			})
		default:
			return d.skip(1)
		}
	})
	if err != nil {
		return Batch{}, err
	}
	if err := d.end(); err != nil {
		return Batch{}, err
	}
	if !seenRecords {
		return Batch{}, &SyntaxError{Record: "batch", Offset: 0, Msg: `no "records" array`}
	}
	return b, nil
}
