// One self-contained ESM file that runs with plain `node` where there is no node_modules (the maintenance OS).
import { build } from 'esbuild';
import { chmod, mkdir } from 'node:fs/promises';

const out = 'dist/shoal-install.mjs';
await mkdir('dist', { recursive: true });
await build({
  entryPoints: ['cli.ts'],
  outfile: out,
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
await chmod(out, 0o755);
console.log(`built ${out}`);
