#!/usr/bin/env node
// Entry point for `npx sharp-eyes`. The TypeScript is compiled to dist/ by the `prepare` step of `npm ci`.
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    console.error('sharp-eyes: dist/ is missing; run `npm ci` (or `npm run build`) in the repository root first.');
    process.exit(1);
  }
  throw err;
});
