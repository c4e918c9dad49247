// Relaxed SIMD (simd/relaxedSimd.ts): the probe, the in-process V8 flag, and who sees it. Each
// check runs in a fresh node process started without any flag, as bin/akd.js, the extension, a
// Slurm job or a sweep member start the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const OUT = path.resolve(__dirname, '..', '..', '..');
const REPO = path.resolve(OUT, '..');

/** Runs `code` in `node -e` (no flags, no NODE_OPTIONS) and returns its last stdout line as JSON. */
function fresh(code: string, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const clean = { ...process.env, ...env };
  delete clean.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: REPO, env: clean, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

test('the probe needs relaxed SIMD; the runner turns it on in-process, for worker threads too', () => {
  const got = fresh(`
    const { Worker } = require('node:worker_threads');
    const r = require(${JSON.stringify(path.join(OUT, 'runner/backend/simd/relaxedSimd.js'))});
    const probe = r.RELAXED_SIMD_PROBE;
    const before = WebAssembly.validate(probe);
    const available = r.relaxedSimdAvailable();
    const after = WebAssembly.validate(probe);
    // A worker started afterwards validates it without calling anything (V8 flags are per process).
    const w = new Worker('require("node:worker_threads").parentPort.postMessage(WebAssembly.validate(' +
      'new Uint8Array(require("node:worker_threads").workerData)))', { eval: true, workerData: Array.from(probe) });
    w.on('message', (inWorker) => { console.log(JSON.stringify({ before, available, after, inWorker })); w.terminate(); });
  `);
  // Node 20 (this project's engine) has relaxed SIMD behind a flag; newer Nodes ship it.
  if (Number(process.versions.node.split('.')[0]) < 22)
    assert.equal(got.before, false, 'Node 20 needs the flag');
  assert.deepEqual(
    { ...got, before: undefined },
    { before: undefined, available: true, after: true, inWorker: true },
  );
});

test('the wasm backend runs the relaxed-SIMD build, in the main thread and in a worker; AKD_NO_RELAXED_SIMD opts out', () => {
  // Which build of simd/gemm.c selectBackend('wasm') loads, printed as JSON by the calling thread.
  const probe = `(async () => {
      const { selectBackend, tf } = require(${JSON.stringify(path.join(OUT, 'runner/backend/selectBackend.js'))});
      const { SimdGemm } = require(${JSON.stringify(path.join(OUT, 'runner/backend/simd/gemmModule.js'))});
      const choice = await selectBackend('wasm');
      return { note: choice.note, kernels: SimdGemm.for(tf().backend())?.kernels ?? 'composite' };
    })()`;
  const inMain = `${probe}.then((r) => console.log(JSON.stringify(r)));`;
  // The worker's process never loads the runner on its main thread: the worker sets the flag itself.
  const inWorker = `
    const { Worker } = require('node:worker_threads');
    const code = 'const p = ' + ${JSON.stringify(probe)} + '; p.then((r) => require("node:worker_threads").parentPort.postMessage(r));';
    const w = new Worker(code, { eval: true });
    w.on('message', (r) => { console.log(JSON.stringify(r)); w.terminate(); });`;
  const main = fresh(inMain);
  assert.equal(main.kernels, 'relaxed-simd');
  assert.match(String(main.note), /^wasm \(SIMD, 1 thread, relaxed-SIMD kernels\)/);
  assert.equal(fresh(inWorker).kernels, 'relaxed-simd');
  const off = fresh(inMain, { AKD_NO_RELAXED_SIMD: '1' });
  assert.equal(off.kernels, 'simd');
  assert.match(String(off.note), /, SIMD kernels\)/);
  assert.equal(fresh(inMain, { AKD_NO_SIMD_GEMM: '1' }).kernels, 'composite');
});
