/*
 * A smoke test of the production bundle (dist/module.js), not the sources:
 * it is loaded as Grafana loads it (an AMD module whose dependencies are
 * Grafana's shared libraries) and its editors are rendered. Runs when
 * SIGHTLINE_PLUGIN_DIST names a built dist directory (make plugin-check sets
 * it after the build); skipped otherwise.
 */
import { render, screen } from '@testing-library/react';
import userEventLib from '@testing-library/user-event';
import fs from 'fs';
import path from 'path';
import React from 'react';

import { DataSourcePlugin } from '@grafana/data';

// No delay between keystrokes: the tests type a lot, and CI machines are slow.
const userEvent = userEventLib.setup({ delay: null });

const dist = process.env.SIGHTLINE_PLUGIN_DIST;
const maybe = dist ? it : it.skip;

function loadBundle(dir: string) {
  const code = fs.readFileSync(path.join(dir, 'module.js'), 'utf8');
  let exported: Record<string, unknown> | undefined;
  const deps: Record<string, unknown> = {
    module: { uri: 'public/plugins/sightline-observability-datasource/module.js' },
    '@grafana/data': require('@grafana/data'),
    '@grafana/ui': require('@grafana/ui'),
    '@grafana/runtime': require('@grafana/runtime'),
    '@emotion/css': require('@emotion/css'),
    react: require('react'),
    rxjs: require('rxjs'),
  };
  const define = (names: string[], factory: (...mods: unknown[]) => Record<string, unknown>) => {
    const missing = names.filter((n) => !(n in deps));
    if (missing.length) {
      throw new Error(`bundle needs modules Grafana does not share: ${missing.join(', ')}`);
    }
    exported = factory(...names.map((n) => deps[n]));
  };
  new Function('define', code)(define);
  return exported!;
}

describe('production bundle', () => {
  maybe('loads as an AMD module and its query editor works', async () => {
    const mod = loadBundle(dist!);
    const plugin = mod.plugin as DataSourcePlugin<any>;
    expect(plugin).toBeInstanceOf(DataSourcePlugin);
    const QueryEditor = plugin.components.QueryEditor!;
    const onChange = jest.fn();
    const ds = { fetchStrings: () => Promise.resolve([]) };
    render(
      <QueryEditor
        query={{ refId: 'A', queryType: 'metrics', expr: 'up' } as never}
        datasource={ds as never}
        onChange={onChange}
        onRunQuery={() => {}}
      />
    );
    expect(screen.getByLabelText('Metrics query')).toHaveValue('up');
    await userEvent.click(screen.getByRole('radio', { name: 'Traces' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'traces', expr: '', tracesMode: 'search' });
    expect(plugin.components.ConfigEditor).toBeDefined();
  });
});
