// The entry ncc bundles into dist/undici/index.js: undici alone, loaded by
// dist/lazy-undici.cjs on first use. See scripts/build.mjs.
module.exports = require('undici')
