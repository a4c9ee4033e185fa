/**
 * @jest-environment node
 */
import fs from 'fs';
import path from 'path';

const { checkPluginJson } = require('../../scripts/plugin-json.js');

const srcPluginJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'plugin.json'), 'utf8'));

describe('plugin.json', () => {
  it("is valid against Grafana's plugin.json schema and declares what the backend serves", () => {
    expect(checkPluginJson(srcPluginJson)).toEqual([]);
  });

  it('is still valid once the build has filled in version and date', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const built = {
      ...srcPluginJson,
      buildMode: 'production',
      info: { ...srcPluginJson.info, version: pkg.version, updated: '2026-12-01' },
    };
    expect(checkPluginJson(built, { built: true })).toEqual([]);
  });

  it('catches mistakes (the schema is really applied)', () => {
    const bad = { ...srcPluginJson, id: 'Sightline', type: 'thing', backend: false, unknownField: 1 };
    const problems: string[] = checkPluginJson(bad);
    expect(problems.some((p) => p.includes('/id'))).toBe(true);
    expect(problems.some((p) => p.includes('/type'))).toBe(true);
    expect(problems.some((p) => p.includes('additionalProperty'))).toBe(true);
    expect(problems).toContain('backend is false, want true');
  });
});
