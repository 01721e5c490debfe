// Package importer is `akosha job import`: it imports the uploads that
// Session-Buddy's cloud sync leaves in S3 into the lake, each exactly once.
//
// # What Session-Buddy uploads
//
// Session-Buddy's CloudSyncMethod (session_buddy/storage/cloud_sync.py in
// github.com/lesleslie/session-buddy) copies its two DuckDB databases,
// ~/.claude/data/reflection.duckdb and knowledge_graph.duckdb, each gzipped but
// under its own name, to
//
//	systems/{system_id}/uploads/{upload_id}/reflection.duckdb
//	systems/{system_id}/uploads/{upload_id}/knowledge_graph.duckdb
//	systems/{system_id}/uploads/{upload_id}/manifest.json   (written last)
//
// where upload_id is "YYYYMMDD_HHMMSS_{system_id}" (UTC) and the manifest is
//
//	{"upload_id": "...", "system_id": "...", "timestamp": "<isoformat, +00:00>",
//	 "files": [{"name": "reflection.duckdb", "path": "systems/.../reflection.duckdb",
//	            "size_bytes": 0, "compression": "gzip", "checksum": ""}, ...],
//	 "metadata": {"uploader": "session-buddy", "version": "1.0.0"}}
//
// size_bytes and checksum are placeholders today (0 and ""); when present they
// are verified, against the stored or the decompressed bytes. The shape of
// Akosha's older Python SystemMemoryUploadManifest (files as plain names,
// compressed + compression_format, uploaded_at) is accepted as well. Each
// upload is a full copy of the databases, not a delta.
//
// The tables read, with Session-Buddy's column types (schema_v2.py and
// knowledge_graph_adapter_oneiric.py), and where they go:
//
//	conversations_v2 (id TEXT, content TEXT, embedding FLOAT[384], category,
//	  subcategory, importance_score REAL, memory_tier, access_count INTEGER,
//	  last_accessed TIMESTAMP, project, namespace, timestamp TIMESTAMP,
//	  session_id, user_id, searchable_content, reasoning, metadata VARCHAR (JSON),
//	  source_type, turn_parent_id, causal_parent_id, fingerprint BLOB)
//	  -> memories, kind "conversation", created_at = timestamp
//	reflections_v2 (id, content, embedding FLOAT[384], category, subcategory,
//	  importance_score, memory_tier, tags TEXT[], related_entities TEXT[],
//	  timestamp, project, namespace, access_count, last_accessed, created_at,
//	  updated_at, insight_type, usage_count, last_used_at, confidence_score,
//	  fingerprint BLOB, metadata JSON)
//	  -> memories, kind "reflection", created_at = timestamp, else created_at
//	kg_entities (id VARCHAR, name, entity_type, observations VARCHAR[],
//	  properties JSON, created_at, updated_at TIMESTAMP, metadata JSON,
//	  embedding FLOAT[384])  -> entities
//	kg_relationships (id, from_entity, to_entity, relation_type, properties JSON,
//	  created_at, updated_at, metadata JSON)  -> relations
//
// The mapping is Session-Buddy's own push (HttpSyncMethod in
// storage/akosha_sync.py; ingest's MCP tools are its other half), so that a
// record pushed and the same record imported are equal rows: columns that
// are record fields become fields (importance_score -> importance, exactly
// as its REAL holds it); a conversation's reasoning is appended to its
// content as "\n\nReasoning: ..."; memory_tier (and a reflection's
// related_entities) go to metadata; a knowledge-graph row's metadata goes
// into its properties under "metadata". Columns the push does not send
// (access_count, last_accessed, searchable_content, the tables' own metadata
// column, a reflection's subcategory, ...) are not imported either. NULL,
// "" and [] are absent. Metadata and properties get "ingestion_method":
// "s3_import" (the push sends "http_push"). Beyond the push, an entity keeps
// its updated_at and embedding, which the push does not carry.
// from_entity and to_entity are kept as stored; Session-Buddy's
// create_relation stores entity ids there, which are also the lake's entity
// ids. The system id is the upload folder's (a manifest claiming another one
// is refused). Timestamps without a zone are read as UTC, as everywhere in
// Akosha: Session-Buddy writes datetime.now(UTC) into plain TIMESTAMP
// columns, which DuckDB converts to the writing machine's local time, so an
// upload from a machine outside UTC holds local wall-clock times; they are
// read as they stand, as the push (which sends the same values' isoformat()
// without a zone) does, and both paths give the same created_at. Older
// installs lack some columns (Session-Buddy adds them with ALTER TABLE ...
// ADD COLUMN IF NOT EXISTS): only the ids, content and the graph's names and
// types are required; a missing column reads as NULL.
//
// # Exactly once
//
// Each table is read in storage order (deterministic for an immutable file)
// and cut into batches of Options.BatchSize rows or 64 MiB, whichever comes
// first. Each batch is committed to its lake table as one version carrying a
// Delta txn action with appId
//
//	akosha-import:systems/{sid}/uploads/{uid}:{table}:{batch}
//
// and version = the batch size. A run skips every batch whose txn is in the
// lake, and the commit itself refuses a txn a concurrent writer recorded
// first, so neither a crash-resumed run nor two concurrent runs import a row
// twice. When every batch is in, a txn "akosha-import:{upload}:done" is
// committed to the memories table: later runs skip the upload on a lookup in
// the snapshot they already hold, without reading its manifest. The lake is
// the only source of truth; the marker object
// systems/{sid}/uploads/{uid}/.akosha-imported, written afterwards (put if
// absent), only tells people and bucket lifecycle rules, and is never trusted
// because another lake may import from the same bucket.
//
// # Hostile uploads
//
// Uploads come from many machines and are treated as hostile. The manifest's
// location fixes the system and upload ids (checked against the lake's
// charset); file names must be the two known database names (any other name
// with path syntax refuses the upload) and objects are only ever read from the
// manifest's own folder; the stored and decompressed sizes are bounded while
// streaming (a gzip bomb stops at the limit). The databases are attached
// read-only in a private in-memory DuckDB with extension autoloading off and
// external access disabled and locked right after ATTACH, so a view or macro
// inside them cannot read the host's files; only base tables of the expected
// names are read, each value's size is checked in SQL before it is fetched,
// and every row is normalized and validated like an ingested record. Invalid
// rows are counted and reported, never committed; a refused upload commits
// nothing.
package importer
