// Builds the console into functions/query/console/dist, which the Go binary
// embeds. The output depends only on the sources and the versions pinned in
// package-lock.json: `make ui-check` rebuilds it and fails on any difference.
import * as esbuild from 'esbuild';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../../functions/query/console/dist');

await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.js'],
  bundle: true,
  splitting: true, // the SQL and graph pages' libraries load on first use
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox115', 'safari16'],
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  legalComments: 'none', // licences: web/console/THIRD_PARTY.md
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

let js = '', css = '';
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const rel = relative(out, join(here, file)).split('\\').join('/');
  if (meta.entryPoint === 'src/main.js') js = rel;
  if (rel.endsWith('.css') && rel.includes('main-')) css = rel;
}
if (!js || !css) throw new Error('build: no main.js or main.css in the output');
const html = (await readFile(join(here, 'src/index.html'), 'utf8')).replace('%MAIN_JS%', js).replace('%MAIN_CSS%', css);
await writeFile(join(out, 'index.html'), html);

// The licences of the packages bundled (esbuild's legal comments are off, so
// they are collected here once, in a stable order).
const pkgs = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
let notices = 'Third-party software bundled in the Akosha console (functions/query/console/dist).\n';
for (const name of [...pkgs].sort()) {
  const dir = join(here, 'node_modules', name);
  const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const files = (await readdir(dir)).filter((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f)).sort();
  notices += `\n${'='.repeat(72)}\n${name} ${meta.version} (${meta.license})\n${'='.repeat(72)}\n`;
  for (const f of files) notices += '\n' + (await readFile(join(dir, f), 'utf8')).trim() + '\n';
}
await writeFile(join(out, 'THIRD_PARTY.txt'), notices);

const sizes = Object.entries(result.metafile.outputs).map(([f, m]) => `${relative(out, join(here, f))} ${m.bytes}`);
console.log(sizes.join('\n'));
