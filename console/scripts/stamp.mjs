// The build stamp: one SHA-256 over the console's sources and lockfile,
// written next to the build (internal/console/dist/source.sha256) so that a Go
// test can tell a committed build that no longer matches its sources.
// internal/console/stamp_test.go computes the same hash; keep them alike.
//
//   node scripts/stamp.mjs --write   after vite build
//   node scripts/stamp.mjs --check   exit 1 when the build is stale
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = join(root, '..', 'internal', 'console', 'dist', 'source.sha256');
// Keep in step with stampInputs in internal/console/stamp_test.go.
const files = ['index.html', 'explorer.html', 'package.json', 'package-lock.json', 'tsconfig.json', 'vite.config.ts', 'codegen.ts', 'schema.graphql'];
const dirs = ['src', 'public'];

function walk(dir, out) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

export function sourceHash() {
  const all = files.map((f) => join(root, f)).filter((p) => existsSync(p));
  for (const d of dirs) walk(join(root, d), all);
  const rel = all.map((p) => relative(root, p).split('\\').join('/')).sort();
  const h = createHash('sha256');
  for (const r of rel) {
    h.update(r + '\n' + createHash('sha256').update(readFileSync(join(root, r))).digest('hex') + '\n');
  }
  return h.digest('hex');
}

const mode = process.argv[2];
const hash = sourceHash();
if (mode === '--write') {
  writeFileSync(stampFile, hash + '\n');
  console.log(`stamp ${hash}`);
} else if (mode === '--check') {
  const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  if (have !== hash) {
    console.error(`console build is stale (built from ${have || 'nothing'}, sources are ${hash})`);
    process.exit(1);
  }
} else {
  console.log(hash);
}
