/*
 * Packages under node_modules that ship only ES modules and must go through
 * SWC in Jest (as create-plugin's jest utils list them).
 */
const nodeModulesToTransform = (moduleNames) => `node_modules/(?!.*(${moduleNames.join('|')})/.*)`;

const grafanaESModules = [
  '.pnpm',
  '@grafana/schema',
  '@wojtekmaj/date-utils',
  'd3',
  'd3-color',
  'd3-force',
  'd3-interpolate',
  'd3-scale-chromatic',
  'get-user-locale',
  'marked',
  'memoize',
  'mimic-function',
  'ol',
  'react-calendar',
  'react-colorful',
  'rxjs',
  'uuid',
  // ES-module-only packages @grafana/ui 13 and @grafana/data 13 load.
  '@react-hookz',
  '@ver0',
  '@codemirror',
  '@lezer',
  '@uiw',
  '@marijn',
  '@tanstack',
  '@leeoniya',
  'react-loading-skeleton',
  'compute-scroll-into-view',
  'crelt',
  'style-mod',
  'w3c-keyname',
  'internmap',
  'd3-array',
  'd3-format',
  'd3-scale',
  'd3-time',
  'd3-time-format',
  'marked-mangle',
  'nanoid',
  'uwrap',
  'quick-lru',
  'stylis',
  'rbush',
  'quickselect',
];

module.exports = { nodeModulesToTransform, grafanaESModules };
