package lake

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Do tries again while a race is lost, at most Attempts times, and stops
// at the first error or at a try that lost nothing.
func TestRetryDo(t *testing.T) {
	r := Retry{Attempts: 4, Base: time.Microsecond, Max: time.Microsecond}
	boom := errors.New("boom")
	for _, c := range []struct {
		name    string
		lostFor int   // tries that lose a race
		failAt  int   // the try that fails (0: none)
		tries   int   // want
		err     error // want
	}{
		{"wins at once", 0, 0, 1, nil},
		{"wins on the third", 2, 0, 3, nil},
		{"loses every try: no error", 10, 0, 4, nil},
		{"fails on the second", 10, 2, 2, boom},
	} {
		t.Run(c.name, func(t *testing.T) {
			tries := 0
			err := r.Do(context.Background(), func(attempt int) (bool, error) {
				tries++
				if attempt != tries {
					t.Fatalf("attempt %d on try %d", attempt, tries)
				}
				if attempt == c.failAt {
					return false, boom
				}
				return attempt <= c.lostFor, nil
			})
			if tries != c.tries || !errors.Is(err, c.err) {
				t.Fatalf("%d tries, %v; want %d, %v", tries, err, c.tries, c.err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Retry{Attempts: 3}).Do(ctx, func(int) (bool, error) { return true, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
}
