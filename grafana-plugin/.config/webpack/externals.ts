import type { Configuration, ExternalItemFunctionData } from 'webpack';

/**
 * What Grafana provides at runtime (SystemJS/AMD modules of the host page):
 * never bundled. @grafana/ui included, so its Monaco-free widgets cost the
 * bundle nothing.
 */
export const externals: Configuration['externals'] = [
  // For the dynamic public path (see grafana-public-path in webpack.config.ts).
  { 'amd-module': 'module' },
  'lodash',
  'jquery',
  'moment',
  'slate',
  'emotion',
  '@emotion/react',
  '@emotion/css',
  'prismjs',
  'slate-plain-serializer',
  '@grafana/slate-react',
  'react',
  'react/jsx-runtime',
  'react/jsx-dev-runtime',
  'react-dom',
  'react-redux',
  'redux',
  'rxjs',
  'i18next',
  'react-router',
  'd3',
  'angular',
  /^@grafana\/ui/i,
  /^@grafana\/runtime/i,
  /^@grafana\/data/i,
  // Legacy imports spelled "grafana/app/...".
  ({ request }: ExternalItemFunctionData, callback: (error?: Error, result?: string) => void) => {
    if (request && request.indexOf('grafana/') === 0) {
      return callback(undefined, request.slice('grafana/'.length));
    }
    callback();
  },
];
