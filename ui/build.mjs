// Builds dist/ from src/: one minified JS bundle, one CSS file and
// index.html. File names carry no hash so that the committed dist/ changes
// only when the sources do; the Go handler serves them with no-cache and
// ETags instead (ui/ui.go).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

// The output folder: dist, or the one given, where `make ui-check` builds
// a copy to compare with the committed dist.
const out = process.argv[2] ?? 'dist';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: 'src/main.tsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outdir: out,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync('src/index.html', `${out}/index.html`);
