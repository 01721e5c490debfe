package delta

import (
	"bytes"
	"context"
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/storage"
)

// Checkpoints come from many writers (Spark 2.4-3.5, Delta 0.2-3.3,
// delta-rs, Databricks), whose Parquet schemas differ: columns are optional
// or required, in any order, some are missing (stats, tags, remove.size),
// some are extra (commitInfo, domainMetadata, stats_parsed,
// partitionValues_parsed, deletionVector). Binding the file to a fixed Go
// struct would reject or silently drop parts of that zoo, so the reader
// resolves the columns it needs by name in the file's own schema, reads only
// those column chunks (a projection) and reassembles each row from the
// definition and repetition levels.

// readCheckpoint reads every part of cp (concurrently) and hands the actions
// to emit in part and row order.
func (t *Table) readCheckpoint(ctx context.Context, cp *checkpointRef, emit func(*Action)) error {
	parts := make([][]Action, len(cp.keys))
	err := parallel(ctx, len(cp.keys), func(ctx context.Context, i int) error {
		data, err := storage.ReadAll(ctx, t.store, cp.keys[i])
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", cp.version, err)
		}
		acts, err := decodeCheckpoint(data)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %s: %w", cp.version, cp.keys[i], err)
		}
		parts[i] = acts
		return nil
	})
	if err != nil {
		return err
	}
	for _, acts := range parts {
		for i := range acts {
			emit(&acts[i])
		}
	}
	return nil
}

// decodeCheckpoint decodes one checkpoint Parquet file into actions. It
// never panics on malformed input: the Parquet library might, so a panic is
// turned into an error.
func decodeCheckpoint(data []byte) (acts []Action, err error) {
	defer func() {
		if r := recover(); r != nil {
			acts, err = nil, fmt.Errorf("malformed parquet: %v", r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	p := newProjection(f.Root())
	// The row count comes from the file: bound the preallocation by the
	// file size so a corrupt footer cannot demand gigabytes.
	acts = make([]Action, 0, min(f.NumRows(), int64(len(data))))
	for _, rg := range f.RowGroups() {
		if err := p.load(rg); err != nil {
			return nil, err
		}
		for row := int64(0); row < rg.NumRows(); row++ {
			if err := p.advance(); err != nil {
				return nil, fmt.Errorf("row %d: %w", row, err)
			}
			acts = p.appendActions(acts)
		}
	}
	return acts, nil
}

// projection holds the resolved columns of one checkpoint file.
type projection struct {
	leaves []*leaf // every projected leaf, to advance them together

	txn                            group
	txnAppID, txnVersion, txnLastU *leaf

	add                                      group
	addPath, addSize, addModTime, addChange  *leaf
	addStats                                 *leaf
	addPV, addTags                           *mapCols
	addPVParsed, addStatsParsed              *structCols
	addDV                                    group
	dvType, dvPath, dvOffset, dvSize, dvCard *leaf

	rm                                         group
	rmPath, rmTS, rmChange, rmExtended, rmSize *leaf
	rmPV, rmTags                               *mapCols
	rmDV                                       group

	meta                                     group
	metaID, metaName, metaDesc, metaProvider *leaf
	metaSchema, metaCreated                  *leaf
	metaOptions, metaConfig                  *mapCols
	metaPartCols                             *listCols

	proto                    group
	protoReader, protoWriter *leaf
	protoRF, protoWF         *listCols
}

func newProjection(root *parquet.Column) *projection {
	p := &projection{}
	r := resolver{p: p, root: root}

	if g, ok := r.group("txn"); ok {
		p.txnAppID = r.leaf("txn", "appId")
		p.txnVersion = r.leaf("txn", "version")
		p.txnLastU = r.leaf("txn", "lastUpdated")
		p.txn = r.presence(g, p.txnAppID)
	}
	if g, ok := r.group("add"); ok {
		p.addPath = r.leaf("add", "path")
		p.addSize = r.leaf("add", "size")
		p.addModTime = r.leaf("add", "modificationTime")
		p.addChange = r.leaf("add", "dataChange")
		p.addStats = r.leaf("add", "stats")
		p.addPV = r.stringMap("add", "partitionValues")
		p.addTags = r.stringMap("add", "tags")
		if p.addPV == nil {
			p.addPVParsed = r.scalarStruct("add", "partitionValues_parsed")
		}
		p.addStatsParsed = r.scalarStruct("add", "stats_parsed")
		p.add = r.presence(g, p.addPath)
		if dg, ok := r.group("add", "deletionVector"); ok {
			p.dvType = r.leaf("add", "deletionVector", "storageType")
			p.dvPath = r.leaf("add", "deletionVector", "pathOrInlineDv")
			p.dvOffset = r.leaf("add", "deletionVector", "offset")
			p.dvSize = r.leaf("add", "deletionVector", "sizeInBytes")
			p.dvCard = r.leaf("add", "deletionVector", "cardinality")
			p.addDV = r.presence(dg, p.dvType)
		}
	}
	if g, ok := r.group("remove"); ok {
		p.rmPath = r.leaf("remove", "path")
		p.rmTS = r.leaf("remove", "deletionTimestamp")
		p.rmChange = r.leaf("remove", "dataChange")
		p.rmExtended = r.leaf("remove", "extendedFileMetadata")
		p.rmSize = r.leaf("remove", "size")
		p.rmPV = r.stringMap("remove", "partitionValues")
		p.rmTags = r.stringMap("remove", "tags")
		p.rm = r.presence(g, p.rmPath)
		if dg, ok := r.group("remove", "deletionVector"); ok {
			p.rmDV = r.presence(dg, r.leaf("remove", "deletionVector", "storageType"))
		}
	}
	if g, ok := r.group("metaData"); ok {
		p.metaID = r.leaf("metaData", "id")
		p.metaName = r.leaf("metaData", "name")
		p.metaDesc = r.leaf("metaData", "description")
		p.metaProvider = r.leaf("metaData", "format", "provider")
		p.metaOptions = r.stringMap("metaData", "format", "options")
		p.metaSchema = r.leaf("metaData", "schemaString")
		p.metaPartCols = r.stringList("metaData", "partitionColumns")
		p.metaConfig = r.stringMap("metaData", "configuration")
		p.metaCreated = r.leaf("metaData", "createdTime")
		p.meta = r.presence(g, p.metaID)
	}
	if g, ok := r.group("protocol"); ok {
		p.protoReader = r.leaf("protocol", "minReaderVersion")
		p.protoWriter = r.leaf("protocol", "minWriterVersion")
		p.protoRF = r.stringList("protocol", "readerFeatures")
		p.protoWF = r.stringList("protocol", "writerFeatures")
		p.proto = r.presence(g, p.protoReader)
	}
	return p
}

// appendActions turns the current row into actions. Spark writes one action
// per row; each present group is taken anyway.
func (p *projection) appendActions(acts []Action) []Action {
	if p.proto.present() {
		pr := &Protocol{}
		if v, ok := p.protoReader.int(); ok {
			pr.MinReaderVersion = int(v)
		}
		if v, ok := p.protoWriter.int(); ok {
			pr.MinWriterVersion = int(v)
		}
		pr.ReaderFeatures = p.protoRF.strings()
		pr.WriterFeatures = p.protoWF.strings()
		acts = append(acts, Action{Protocol: pr})
	}
	if p.meta.present() {
		m := &Metadata{}
		m.ID, _ = p.metaID.str()
		m.Name, _ = p.metaName.str()
		m.Description, _ = p.metaDesc.str()
		m.Format.Provider, _ = p.metaProvider.str()
		m.Format.Options = derefMap(p.metaOptions.strings())
		m.SchemaString, _ = p.metaSchema.str()
		m.PartitionColumns = p.metaPartCols.strings()
		m.Configuration = derefMap(p.metaConfig.strings())
		m.CreatedTime, _ = p.metaCreated.int()
		acts = append(acts, Action{MetaData: m})
	}
	if p.txn.present() {
		if id, ok := p.txnAppID.str(); ok && id != "" {
			t := &Txn{AppID: id, CommitVersion: -1}
			t.Version, _ = p.txnVersion.int()
			t.LastUpdated, _ = p.txnLastU.int()
			acts = append(acts, Action{Txn: t})
		}
	}
	if p.add.present() {
		if path, ok := p.addPath.str(); ok && path != "" {
			a := &Add{Path: path}
			a.Size, _ = p.addSize.int()
			a.ModificationTime, _ = p.addModTime.int()
			a.DataChange, _ = p.addChange.bool()
			a.Stats, _ = p.addStats.str()
			if a.Stats == "" && p.addStatsParsed != nil && p.addStatsParsed.present() {
				a.Stats = p.addStatsParsed.statsJSON()
			}
			a.PartitionValues = p.addPV.strings()
			if p.addPV == nil && p.addPVParsed != nil {
				a.PartitionValues = p.addPVParsed.partitionValues()
			}
			if a.PartitionValues == nil {
				a.PartitionValues = map[string]*string{}
			}
			a.Tags = derefMap(p.addTags.strings())
			if p.addDV.present() {
				dv := &DeletionVector{}
				dv.StorageType, _ = p.dvType.str()
				dv.PathOrInlineDv, _ = p.dvPath.str()
				if v, ok := p.dvOffset.int(); ok {
					o := int32(v)
					dv.Offset = &o
				}
				if v, ok := p.dvSize.int(); ok {
					dv.SizeInBytes = int32(v)
				}
				dv.Cardinality, _ = p.dvCard.int()
				a.DeletionVector = dv
			}
			acts = append(acts, Action{Add: a})
		}
	}
	if p.rm.present() {
		if path, ok := p.rmPath.str(); ok && path != "" {
			r := &Remove{Path: path}
			r.DeletionTimestamp, _ = p.rmTS.int()
			r.DataChange, _ = p.rmChange.bool()
			r.ExtendedFileMetadata, _ = p.rmExtended.bool()
			r.Size, _ = p.rmSize.int()
			r.PartitionValues = p.rmPV.strings()
			r.Tags = derefMap(p.rmTags.strings())
			if p.rmDV.present() {
				r.DeletionVector = &DeletionVector{}
			}
			acts = append(acts, Action{Remove: r})
		}
	}
	return acts
}

func derefMap(m map[string]*string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}
