// One self-contained ESM file that runs with plain `node` where there is no node_modules (the maintenance OS).
// `node scripts/build.mjs [OUT]`, OUT defaulting to dist/shoal-install.mjs.
import { build } from 'esbuild';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const out = process.argv[2] ?? 'dist/shoal-install.mjs';
await mkdir(dirname(out), { recursive: true });
const { outputFiles } = await build({
  entryPoints: ['cli.ts'],
  outfile: out,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'none',
  // ink imports react-devtools-core only when DEV is set; marking it external breaks start-up, so stub it.
  alias: { 'react-devtools-core': './scripts/devtools-stub.mjs' },
  // Bundled CommonJS dependencies call require(); ESM output has none unless we make one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __shoalCreateRequire } from 'node:module';\nconst require = __shoalCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// Renamed into place, never rewritten in place: esbuild truncates and rewrites the file, and a `node` starting the
// bundle meanwhile (a test's install while another run rebuilds) read half of it and died of "SyntaxError:
// Unexpected end of input".
const tmp = `${out}.${process.pid}.tmp`;
try {
  await writeFile(tmp, outputFiles[0].contents);
  await chmod(tmp, 0o755);
  await rename(tmp, out);
} finally {
  await rm(tmp, { force: true });
}
console.log(`built ${out}`);
