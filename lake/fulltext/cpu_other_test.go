//go:build !unix

package fulltext

import "time"

func processCPU() time.Duration { return 0 }
