// The entry ncc bundles into dist/index.js. A CommonJS entry makes ncc emit a
// CommonJS bundle, which Node starts faster than an ES module; the source
// itself stays ESM. See scripts/build.mjs.
require('./index.ts')
