package lake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A reservation is a tier move's claim on a partition, which compaction
// respects. Both rewrite a partition's files, so each can lose the race to
// the other; retrying is enough for compaction, which is cheap and runs
// often, but a move beside compactions that commit every few hundred
// milliseconds can lose every try. A move that lost once reserves the
// partition; compaction plans no group there while the reservation lasts,
// so after the merges already under way commit, the move's next try wins.
//
// A reservation is an empty object under _reserved/<table>/ whose name
// holds the partition and the time it expires, so one LIST tells a planner
// every claim; a crashed mover's claim simply expires. It is advisory, like
// a lease: the log's commit check keeps the lake correct without it.
const reservedPrefix = "_reserved/"

// DefaultReserveTTL bounds how long a claim holds compaction off a
// partition when its mover dies before releasing it.
const DefaultReserveTTL = 10 * time.Minute

func (t *Table) reservedDir() string { return reservedPrefix + t.Name + "/" }

// Reserve claims partition p for ttl and returns the release, which deletes
// the claim on its own deadline (the caller's context may be done). Claims
// found expired on the way are deleted.
func (t *Table) Reserve(ctx context.Context, p Partition, ttl time.Duration) (release func(), err error) {
	store := t.Log.Store()
	t.dropExpiredReservations(ctx)
	key := t.reservedDir() + url.PathEscape(p.String()) + "@" + strconv.FormatInt(time.Now().Add(ttl).UnixMilli(), 10)
	if err := store.Put(ctx, key, bytes.NewReader(nil), 0); err != nil {
		return nil, fmt.Errorf("reserve %s: %w", p, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := store.Delete(ctx, key); err != nil {
			slog.Default().Warn("release reservation", "key", key, "err", err)
		}
	}, nil
}

// Reserved returns the partitions (by Partition.String) claimed now.
func (t *Table) Reserved(ctx context.Context) (map[string]bool, error) {
	objs, err := t.Log.Store().List(ctx, t.reservedDir())
	if err != nil {
		return nil, fmt.Errorf("list reservations of %s: %w", t.Name, err)
	}
	now := time.Now()
	out := map[string]bool{}
	for _, o := range objs {
		if p, exp, ok := parseReservation(strings.TrimPrefix(o.Key, t.reservedDir())); ok && now.Before(exp) {
			out[p] = true
		}
	}
	return out, nil
}

func (t *Table) dropExpiredReservations(ctx context.Context) {
	store := t.Log.Store()
	objs, err := store.List(ctx, t.reservedDir())
	if err != nil {
		return
	}
	now := time.Now()
	for _, o := range objs {
		if _, exp, ok := parseReservation(strings.TrimPrefix(o.Key, t.reservedDir())); ok && !now.Before(exp) {
			_ = store.Delete(ctx, o.Key) // best effort: an expired claim holds nothing off
		}
	}
}

// parseReservation reads "<escaped partition>@<expiry in Unix ms>".
func parseReservation(name string) (partition string, expires time.Time, ok bool) {
	i := strings.LastIndexByte(name, '@')
	if i < 0 {
		return "", time.Time{}, false
	}
	ms, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	p, err := url.PathUnescape(name[:i])
	if err != nil {
		return "", time.Time{}, false
	}
	return p, time.UnixMilli(ms), true
}
