// Package hnsw is Akosha's approximate nearest-neighbour index: a
// Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016) over
// cosine similarity of float32 vectors, plus the exact SIMD scan that the
// query path uses for rows not yet indexed and for selective filters.
//
// Vectors are identified by their row position (an int32 node id); the caller
// maps positions to records. The index owns a normalized copy of its vectors,
// so a score is the cosine similarity (the dot product of unit vectors) and
// results come highest score first.
//
// The serialized form is a 64-byte header followed by flat little-endian
// arrays (see serialize.go). Load uses it in place, without copying, so an
// index can come from one read or one mmap (LoadFile).
//
// Determinism: levels come from Config.Seed alone. With Workers == 1 the graph
// and its serialized bytes are identical for the same vectors and seed on
// the same kind of CPU (the SIMD kernels, which differ between CPUs, may
// round differently). With
// more workers the insertion interleaving depends on scheduling, so the graph
// (not its levels or entry point level) may differ between runs; its recall
// does not, measurably.
package hnsw
