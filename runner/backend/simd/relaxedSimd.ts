/**
 * Can this process run wasm relaxed SIMD (gemm.c's fused multiply-add build)?
 *
 * Node >= 22 and VS Code's Electron run it by default; Node 20's V8 (11.3) has it behind
 * `--experimental-wasm-relaxed-simd`. That flag cannot go in NODE_OPTIONS (Node refuses V8 flags
 * there), and re-executing node to add it would cost a process start and put a second process
 * between every caller and its signals; so when the probe fails, the flag is switched on here,
 * in-process, before any relaxed module is compiled (V8 reads it at compile time). V8 flags are
 * process-wide: the training worker threads see it too. Whatever starts the runner (bin/akd.js,
 * the extension, a Slurm job, a sweep member, a worker) therefore needs no flag of its own.
 */
import * as v8 from 'node:v8';

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd) */
const PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version
  0x01,
  0x08,
  0x01,
  0x60,
  0x03,
  0x7b,
  0x7b,
  0x7b,
  0x01,
  0x7b, // types: (v128 v128 v128) -> v128
  0x03,
  0x02,
  0x01,
  0x00, // functions: one of type 0
  0x0a,
  0x0d,
  0x01,
  0x0b,
  0x00,
  0x20,
  0x00,
  0x20,
  0x01,
  0x20,
  0x02,
  0xfd,
  0x85,
  0x02,
  0x0b, // code
]);

const validate = (bytes: Uint8Array): boolean =>
  (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(
    bytes,
  );

/** V8's flag for relaxed SIMD in Node 20 (shipped, on by default, from V8 11.4). */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

let available: boolean | undefined;

/**
 * Whether f32x4.relaxed_madd validates here, after turning V8's flag on if it did not (once per
 * process; the answer is cached).
 */
export function relaxedSimdAvailable(): boolean {
  if (available !== undefined) return available;
  available = validate(PROBE);
  if (!available) {
    try {
      v8.setFlagsFromString(RELAXED_SIMD_FLAG);
      available = validate(PROBE);
    } catch {
      available = false;
    }
  }
  return available;
}

/** The probe module, for tests (it must validate exactly where relaxed SIMD runs). */
export const RELAXED_SIMD_PROBE: Readonly<Uint8Array> = PROBE;
