//go:build !unix

package cputime

import "time"

// Self is 0 where getrusage is not available.
func Self() time.Duration { return 0 }
