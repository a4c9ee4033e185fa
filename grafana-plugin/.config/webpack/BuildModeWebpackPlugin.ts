import webpack from 'webpack';

const NAME = 'BuildModeWebpack';

/** Writes the webpack mode into dist/plugin.json as "buildMode", as create-plugin does. */
export class BuildModeWebpackPlugin {
  apply(compiler: webpack.Compiler) {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.processAssets.tap({ name: NAME, stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONS }, () => {
        for (const asset of compilation.getAssets()) {
          if (asset.name.endsWith('plugin.json')) {
            const json = JSON.parse(asset.source.source().toString());
            json.buildMode = compilation.options.mode;
            compilation.updateAsset(asset.name, new webpack.sources.RawSource(JSON.stringify(json, null, 2) + '\n'));
          }
        }
      });
    });
  }
}
