package vacuum

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// Import staging (issue 16: erasure reaches the bytes). Session-Buddy's
// uploads (systems/{sid}/uploads/{id}/*.duckdb, gzipped) are full copies of
// its databases; once the import job has committed one to the lake and left
// its marker there, the databases are staging that still holds every
// record, deleted ones included. Vacuum deletes an imported upload's files
// once its marker is older than the grace, keeping manifest.json and the
// marker, so that the upload stays recorded as imported (the importer
// decides "done" from the lake and the marker before it reads any file).
// Uploads without a marker (pending, failed, or imported with --no-marker
// from a read-only source) are never touched.

// UploadsPrefix is where the import job finds Session-Buddy's uploads.
const UploadsPrefix = "systems/"

// Names the upload cleanup keeps (jobs/importer's manifest and marker).
const (
	uploadManifest = "manifest.json"
	uploadMarker   = ".akosha-imported"
)

// UploadSummary counts the import staging a run deleted.
type UploadSummary struct {
	Uploads int   // imported uploads whose databases went
	Deleted int   // objects deleted
	Bytes   int64 // their bytes
	Failed  int
}

// planUploads lists the database objects of uploads imported before
// importedBefore.
func planUploads(objs []storage.ObjectInfo, importedBefore time.Time) (keys []storage.ObjectInfo, uploads int) {
	marked := map[string]bool{}
	for _, o := range objs {
		if dir, ok := strings.CutSuffix(o.Key, "/"+uploadMarker); ok && isUploadDir(dir) && o.ModTime.Before(importedBefore) {
			marked[dir] = true
		}
	}
	seen := map[string]bool{}
	for _, o := range objs {
		dir, name := path.Split(o.Key)
		dir = strings.TrimSuffix(dir, "/")
		if !marked[dir] || name == uploadManifest || name == uploadMarker {
			continue
		}
		keys = append(keys, o)
		if !seen[dir] {
			seen[dir] = true
			uploads++
		}
	}
	return keys, uploads
}

// isUploadDir reports whether dir is systems/{sid}/uploads/{id}.
func isUploadDir(dir string) bool {
	parts := strings.Split(dir, "/")
	return len(parts) == 4 && parts[0] == "systems" && parts[2] == "uploads" && parts[1] != "" && parts[3] != ""
}

// vacuumUploads deletes the import staging of imported uploads.
func vacuumUploads(ctx context.Context, store storage.Store, opts Options) (UploadSummary, error) {
	var sum UploadSummary
	objs, err := store.List(ctx, UploadsPrefix)
	if err != nil {
		return sum, fmt.Errorf("list %s: %w", UploadsPrefix, err)
	}
	keys, uploads := planUploads(objs, opts.Now().Add(-opts.Grace))
	sum.Uploads = uploads
	for _, o := range keys {
		if opts.DryRun {
			sum.Deleted++
			sum.Bytes += o.Size
			continue
		}
		if err := store.Delete(ctx, o.Key); err != nil {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			opts.Logger.Warn("vacuum: delete imported upload file", "key", o.Key, "err", err)
			sum.Failed++
			continue
		}
		sum.Deleted++
		sum.Bytes += o.Size
	}
	return sum, nil
}
