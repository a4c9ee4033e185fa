/*
 * The plugin's bundle, laid out as @grafana/create-plugin's webpack config
 * (Apache-2.0), written for Sightline: an AMD module whose Grafana libraries
 * are external, plugin.json with its version and date filled in, the logo and
 * README copied. The Go backend's executables in dist/ survive a rebuild.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import path from 'path';
import ReplaceInFileWebpackPlugin from 'replace-in-file-webpack-plugin';
import TerserPlugin from 'terser-webpack-plugin';
import webpack, { type Configuration } from 'webpack';
import VirtualModulesPlugin from 'webpack-virtual-modules';

import { BuildModeWebpackPlugin } from './BuildModeWebpackPlugin';
import { DIST_DIR, SOURCE_DIR } from './constants';
import { externals } from './externals';
import { getPackageJson, getPluginJson, hasFile } from './utils';

type Env = Record<string, string | boolean | undefined>;

const pluginJson = getPluginJson();
const pluginVersion: string = getPackageJson().version;
const logoPaths = Array.from(new Set<string>([pluginJson.info?.logos?.large, pluginJson.info?.logos?.small])).filter(Boolean);

// Grafana serves the plugin from public/plugins/<id>/; with the AMD loader's
// module.uri the chunks load from wherever the module really came from (CDN).
const publicPath = new VirtualModulesPlugin({
  'node_modules/grafana-public-path.js': `
import amdMetaModule from 'amd-module';

__webpack_public_path__ =
  amdMetaModule && amdMetaModule.uri
    ? amdMetaModule.uri.slice(0, amdMetaModule.uri.lastIndexOf('/') + 1)
    : 'public/plugins/${pluginJson.id}/';
`,
});

const config = (env: Env): Configuration => {
  const production = Boolean(env.production);
  const distDir = path.resolve(process.cwd(), typeof env.dist === 'string' ? env.dist : DIST_DIR);
  return {
    cache: {
      type: 'filesystem',
      cacheDirectory: path.resolve(process.cwd(), 'node_modules', '.cache', 'webpack'),
      buildDependencies: { config: [__filename] },
    },
    context: path.join(process.cwd(), SOURCE_DIR),
    devtool: production ? 'source-map' : 'eval-source-map',
    entry: { module: './module.ts' },
    externals,
    mode: production ? 'production' : 'development',
    module: {
      rules: [
        // First, or source maps break: set the public path before anything else runs.
        {
          test: /src\/(?:.*\/)?module\.tsx?$/,
          use: [{ loader: 'imports-loader', options: { imports: 'side-effects grafana-public-path' } }],
        },
        {
          exclude: /node_modules/,
          test: /\.[tj]sx?$/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                baseUrl: path.resolve(process.cwd(), SOURCE_DIR),
                target: 'es2018',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
              },
            },
          },
        },
        {
          test: /\.(png|jpe?g|gif|svg)$/,
          type: 'asset/resource',
          generator: { filename: production ? '[hash][ext]' : '[file]' },
        },
      ],
    },
    optimization: {
      minimize: production,
      minimizer: [
        new TerserPlugin({
          extractComments: false,
          terserOptions: {
            // Keep only the banner naming the plugin and its version.
            // (A RegExp, not a function: terser runs in workers and a function loses its closure.)
            format: { comments: new RegExp(`^ ${pluginJson.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@`) },
            compress: { drop_console: ['log', 'info'] },
          },
        }),
      ],
    },
    output: {
      // Clean only what the frontend build writes: the Go backend's
      // gpx_sightline_<os>_<arch> executables (and their manifest) stay.
      clean: { keep: /(^|\/)(gpx_sightline.*|.*_(amd64|arm(64)?)(\.exe)?|go_plugin_build_manifest)$/ },
      filename: '[name].js',
      chunkFilename: production ? '[name].js?_cache=[contenthash]' : '[name].js',
      library: { type: 'amd' },
      path: distDir,
      publicPath: `public/plugins/${pluginJson.id}/`,
      uniqueName: pluginJson.id,
      crossOriginLoading: 'anonymous',
    },
    performance: { hints: false },
    plugins: [
      new BuildModeWebpackPlugin(),
      publicPath,
      new webpack.BannerPlugin({
        banner: `/* ${pluginJson.id}@${pluginVersion} */`,
        raw: true,
        entryOnly: true,
      }),
      new CopyWebpackPlugin({
        patterns: [
          { from: hasFile(`${SOURCE_DIR}/README.md`) ? 'README.md' : '../README.md', to: '.', force: true },
          { from: 'plugin.json', to: '.' },
          ...(hasFile('LICENSE') ? [{ from: '../LICENSE', to: '.' }] : []),
          ...(hasFile('CHANGELOG.md') ? [{ from: '../CHANGELOG.md', to: '.', force: true }] : []),
          ...logoPaths.map((p) => ({ from: p, to: p })),
        ],
      }),
      new ReplaceInFileWebpackPlugin([
        {
          dir: distDir,
          test: [/(^|\/)plugin\.json$/, /(^|\/)README\.md$/],
          rules: [
            { search: /%VERSION%/g, replace: pluginVersion },
            { search: /%TODAY%/g, replace: new Date().toISOString().substring(0, 10) },
            { search: /%PLUGIN_ID%/g, replace: pluginJson.id },
          ],
        },
      ]),
    ],
    resolve: {
      extensions: ['.js', '.jsx', '.ts', '.tsx'],
      modules: [path.resolve(process.cwd(), SOURCE_DIR), 'node_modules'],
      unsafeCache: true,
    },
  };
};

export default config;
