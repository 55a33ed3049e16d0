'use strict';
// Loads the Bitsmith native addon: $BITSMITH_NATIVE if set (the bitsmith.native.path setting),
// else what node-gyp-build resolves in this folder: a local build (build/Release/bitsmith.node,
// from npm install or npm run build:native) when there is one, else the prebuild for this
// platform (prebuilds/<platform>-<arch>/bitsmith.glibc.node, from npm run prebuild or shipped
// in a platform VSIX).
const fs = require('fs');
const path = require('path');

// node-gyp-build comes from node_modules (a clone, an npm install); a VSIX has no node_modules
// and ships the copy scripts/build.mjs bundles into dist/.
function nodeGypBuild() {
  try {
    return require('node-gyp-build');
  } catch (err) {
    const bundled = path.join(__dirname, '..', 'dist', 'node-gyp-build.js');
    if (fs.existsSync(bundled)) return require(bundled);
    throw err;
  }
}

function resolveAddon() {
  if (process.env.BITSMITH_NATIVE) return { file: path.resolve(process.env.BITSMITH_NATIVE), from: 'BITSMITH_NATIVE' };
  try {
    return { file: nodeGypBuild().resolve(__dirname), from: null };
  } catch (err) {
    // node-gyp-build found neither a local build nor a prebuild for this platform.
    throw new Error(
      `Bitsmith native addon not built: run npm install (node-gyp) or npm run build:native ` +
        `(looked for ${path.join(__dirname, 'build', 'Release', 'bitsmith.node')} and ` +
        `${path.join(__dirname, 'prebuilds', `${process.platform}-${process.arch}`)}${path.sep}*.node)`,
      { cause: err },
    );
  }
}

const { file, from } = resolveAddon();
let addon;
try {
  addon = require(file);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && !fs.existsSync(file)) {
    throw new Error(
      `Bitsmith native addon not built: run npm install (node-gyp) or npm run build:native ` +
        `(looked for ${file}${from ? `, from ${from}` : ''})`,
      { cause: err },
    );
  }
  throw new Error(`Bitsmith native addon at ${file} failed to load: ${err && err.message}`, { cause: err });
}

module.exports = addon;
