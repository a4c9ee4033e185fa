/*
 * Validates a plugin.json against Grafana's plugin.json JSON schema (the copy
 * in .config/schema, from grafana/plugin-validator, Apache-2.0), plus what
 * Sightline's backend needs that the schema leaves optional.
 *
 *   node scripts/plugin-json.js [file...]    (default: src/plugin.json)
 */
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const SCHEMA = path.join(__dirname, '..', '.config', 'schema', 'plugin.schema.json');

function loadValidator() {
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
  // unicodeRegExp off: the schema's patterns escape '-' (\-), which the u flag rejects.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

/** Returns a list of problems (empty when the file is valid). */
function checkPluginJson(json, { built = false } = {}) {
  const validate = loadValidator();
  const problems = [];
  if (!validate(json)) {
    for (const e of validate.errors) {
      problems.push(`schema: ${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
    }
  }
  const want = {
    id: 'sightline-observability-datasource',
    type: 'datasource',
    name: 'Sightline',
    backend: true,
    executable: 'gpx_sightline',
    alerting: true,
    metrics: true,
    logs: true,
    tracing: true,
    streaming: true,
  };
  for (const [k, v] of Object.entries(want)) {
    if (json[k] !== v) {
      problems.push(`${k} is ${JSON.stringify(json[k])}, want ${JSON.stringify(v)}`);
    }
  }
  if (json.dependencies?.grafanaDependency !== '>=11.0.0') {
    problems.push(`dependencies.grafanaDependency is ${JSON.stringify(json.dependencies?.grafanaDependency)}, want ">=11.0.0"`);
  }
  if (built) {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    if (json.info?.version !== pkg.version) {
      problems.push(`info.version is ${JSON.stringify(json.info?.version)}, want package.json's ${pkg.version}`);
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(json.info?.updated ?? '')) {
      problems.push(`info.updated is ${JSON.stringify(json.info?.updated)}, want a date`);
    }
  }
  return problems;
}

module.exports = { checkPluginJson };

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    files.push(path.join(__dirname, '..', 'src', 'plugin.json'));
  }
  let failed = false;
  for (const f of files) {
    const json = JSON.parse(fs.readFileSync(f, 'utf8'));
    const problems = checkPluginJson(json, { built: !path.resolve(f).includes(`${path.sep}src${path.sep}`) });
    if (problems.length) {
      failed = true;
      console.error(`${f}: invalid`);
      for (const p of problems) {
        console.error('  ' + p);
      }
    } else {
      console.log(`${f}: valid against Grafana's plugin.json schema`);
    }
  }
  process.exit(failed ? 1 : 0);
}
