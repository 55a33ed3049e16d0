'use strict';
// Loads the Bitsmith native addon: $BITSMITH_NATIVE if set, else ./build/Release/bitsmith.node.
const path = require('path');

const file = process.env.BITSMITH_NATIVE
  ? path.resolve(process.env.BITSMITH_NATIVE)
  : path.join(__dirname, 'build', 'Release', 'bitsmith.node');

let addon;
try {
  addon = require(file);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && !require('fs').existsSync(file)) {
    throw new Error(
      `Bitsmith native addon not built: run npm install (node-gyp) or npm run build:native ` +
        `(looked for ${file}${process.env.BITSMITH_NATIVE ? ', from BITSMITH_NATIVE' : ''})`,
      { cause: err },
    );
  }
  throw new Error(`Bitsmith native addon at ${file} failed to load: ${err && err.message}`, { cause: err });
}

module.exports = addon;
