package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http/httptest"
	"testing"
)

// A txn version is a number other engines read as JSON: it stays below
// 2^53, and a version recorded before the cut (63 bits) still matches a
// retry of the same body.
func TestIdempotencyTxnVersionFitsJSON(t *testing.T) {
	for _, body := range []string{"", "a", `{"records":[]}`, string(make([]byte, 4096))} {
		r := httptest.NewRequest("POST", "/v1/memories", nil)
		r.Header.Set("Idempotency-Key", "k1")
		txn, err := idempotencyTxn(r, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if txn.Version < 0 || txn.Version >= 1<<53 {
			t.Fatalf("body %.10q: version %d is not below 2^53", body, txn.Version)
		}
		sum := sha256.Sum256([]byte(body))
		old := int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
		if !sameBody(old, txn.Version) || !sameBody(txn.Version, txn.Version) {
			t.Fatalf("body %.10q: the 63-bit version %d does not match %d", body, old, txn.Version)
		}
		if sameBody(old+1<<20, txn.Version) || sameBody(txn.Version+1, txn.Version) {
			t.Fatalf("body %.10q: another body's version matches", body)
		}
	}
}
