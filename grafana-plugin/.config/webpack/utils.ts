import fs from 'fs';
import path from 'path';

import { SOURCE_DIR } from './constants';

function readJson(file: string) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function getPackageJson() {
  return readJson(path.resolve(process.cwd(), 'package.json'));
}

export function getPluginJson() {
  return readJson(path.resolve(process.cwd(), SOURCE_DIR, 'plugin.json'));
}

export function hasFile(rel: string) {
  return fs.existsSync(path.resolve(process.cwd(), rel));
}
