/*
 * Fails when the production bundle outgrows its budget. Grafana's own
 * libraries (@grafana/*, react, rxjs, emotion) are external, so module.js is
 * only this plugin's code; the budget leaves room to grow, not to bundle a
 * library by mistake (a stray import of Monaco, lodash or a date library
 * would blow through it).
 *
 *   node scripts/bundle-budget.js [dist-dir]
 */
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const BUDGET_RAW = 120 * 1024;
const BUDGET_GZIP = 40 * 1024;

const dist = path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist'));
const file = path.join(dist, 'module.js');
if (!fs.existsSync(file)) {
  console.error(`${file} missing: run npm run build first`);
  process.exit(1);
}
const raw = fs.readFileSync(file);
const gz = zlib.gzipSync(raw, { level: 9 }).length;
const kib = (n) => (n / 1024).toFixed(1) + ' KiB';
console.log(
  `${file}: ${kib(raw.length)} raw (budget ${kib(BUDGET_RAW)}), ${kib(gz)} gzipped (budget ${kib(BUDGET_GZIP)})`
);
let failed = false;
if (raw.length > BUDGET_RAW) {
  console.error(`module.js is ${kib(raw.length)}, over its ${kib(BUDGET_RAW)} budget`);
  failed = true;
}
if (gz > BUDGET_GZIP) {
  console.error(`module.js gzipped is ${kib(gz)}, over its ${kib(BUDGET_GZIP)} budget`);
  failed = true;
}
for (const f of ['plugin.json', 'README.md', 'img/logo.svg']) {
  if (!fs.existsSync(path.join(dist, f))) {
    console.error(`dist/${f} missing`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
