// Dumps a Parquet file as JSON with hyparquet, an independent reader:
// {"schema": [{name, type, logical}], "rows": [[cell, ...], ...],
// "encodings": {column: [encoding, ...]}} (of the first row group).
// Timestamps come out as ISO strings (UTC), 64-bit integers as numbers.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'

const file = await asyncBufferFromFile(process.argv[2])
const meta = await parquetMetadataAsync(file)
const schema = meta.schema.slice(1).map(s => ({ name: s.name, type: s.type, logical: s.logical_type?.type ?? null }))
const objs = await parquetReadObjects({ file })
const rows = objs.map(o => schema.map(s => {
  const v = o[s.name]
  if (v instanceof Date) return v.toISOString()
  if (typeof v === 'bigint') return Number(v)
  return v ?? null
}))
const encodings = {}
for (const c of meta.row_groups[0]?.columns ?? []) {
  encodings[c.meta_data.path_in_schema.join('.')] = c.meta_data.encodings
}
process.stdout.write(JSON.stringify({ schema, rows, encodings }))
