// `node --import tsx src/heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [rows]`: what grew
// between two heap snapshots of one server (written by the heap trace, see server.ts), by node type
// and constructor name, largest growth of self size first; and how many JWT-like strings each holds
// (the verified-token cache's keys), the cache that fills during warm-up.
import { readFileSync } from 'node:fs';

interface Census {
  byKind: Map<string, { count: number; bytes: number }>;
  jwtStrings: number;
  total: number;
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);

function census(path: string): Census {
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const byKind = new Map<string, { count: number; bytes: number }>();
  let jwtStrings = 0;
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? '?';
    const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '';
    const bytes = snapshot.nodes[i + sizeAt] as number;
    const isString = STRING_TYPES.has(type);
    if (isString && name.startsWith('eyJ')) jwtStrings++;
    // Strings by content would make every value its own row: they count together.
    const kind = `${type}: ${isString ? '(strings)' : name.slice(0, 60)}`;
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += bytes;
    byKind.set(kind, entry);
    total += bytes;
  }
  return { byKind, jwtStrings, total };
}

const [earlierPath, laterPath, rowsArg] = process.argv.slice(2);
if (!earlierPath || !laterPath)
  throw new Error('usage: heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [rows]');
const earlier = census(earlierPath);
const later = census(laterPath);
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
console.log(
  `self size ${kb(earlier.total)} -> ${kb(later.total)} KB; JWT-like strings ${earlier.jwtStrings} -> ${later.jwtStrings}`,
);
const rows = [...new Set([...earlier.byKind.keys(), ...later.byKind.keys()])].map((kind) => {
  const before = earlier.byKind.get(kind) ?? { count: 0, bytes: 0 };
  const after = later.byKind.get(kind) ?? { count: 0, bytes: 0 };
  return { kind, bytes: after.bytes - before.bytes, count: after.count - before.count, now: after.count };
});
rows.sort((a, b) => b.bytes - a.bytes);
console.log('  KB grown   objects grown   objects now   type: constructor');
for (const row of rows.slice(0, Number(rowsArg ?? 20))) {
  console.log(
    `${kb(row.bytes).padStart(10)} ${String(row.count).padStart(15)} ${String(row.now).padStart(13)}   ${row.kind}`,
  );
}
