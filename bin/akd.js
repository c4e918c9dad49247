#!/usr/bin/env node
// The `akd` command: the compiled runner CLI (built by `npm run build`, also on `npm ci`).
'use strict';
const { main } = require('../out/runner/cli/akd.js');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`akd: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
