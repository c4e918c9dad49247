/**
 * What 128-bit wasm SIMD can do on this CPU at best: two tiny hand-assembled wasm loops with 10
 * independent accumulators, acc += a * b, a loaded from memory as a GEMM's inner loop loads it,
 * as a multiply and an add (f32x4.mul + f32x4.add) or as one fused f32x4.relaxed_madd. Ten
 * chains hide the add's and the FMA's latency, so the figure is the FP units' issue limit for
 * 4-lane vectors as V8 compiles them (Zen 3/4: two 128-bit multiplies and two adds, or two FMAs,
 * a cycle: the same 16 FLOP/cycle; Intel cores: two of either kind, so fusing doubles it).
 * The kernels' GFLOP/s are judged against these.
 */

const OP = {
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Sub: 0x6b,
} as const;
const simd = (op: number): number[] => [0xfd, ...leb(op)];
const V128_LOAD = simd(0x00);
const F32X4_SPLAT = simd(0x13);
const F32X4_EXTRACT_LANE = simd(0x1f);
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const F32X4_RELAXED_MADD = simd(0x105);

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}
const f32 = (v: number): number[] => [...new Uint8Array(new Float32Array([v]).buffer)];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];

const CHAINS = 10;

/**
 * (func (param $n i32) (result f32)): n iterations of acc_i += mem[16 i] * b for 10
 * accumulators (locals 1..10; b = local 11).
 */
function loopBody(fused: boolean): number[] {
  const acc = (i: number): number => 1 + i;
  const b = 1 + CHAINS;
  const code: number[] = [];
  code.push(OP.f32Const, ...f32(0.5), ...F32X4_SPLAT, OP.localSet, b);
  code.push(OP.loop, 0x40);
  for (let i = 0; i < CHAINS; i++) {
    const load = [OP.i32Const, 0, ...V128_LOAD, 4, ...leb(16 * i)];
    if (fused) code.push(...load, OP.localGet, b, OP.localGet, acc(i), ...F32X4_RELAXED_MADD);
    else code.push(OP.localGet, acc(i), ...load, OP.localGet, b, ...F32X4_MUL, ...F32X4_ADD);
    code.push(OP.localSet, acc(i));
  }
  code.push(OP.localGet, 0, OP.i32Const, 1, OP.i32Sub, OP.localTee, 0, OP.brIf, 0, OP.end);
  code.push(OP.localGet, acc(0));
  for (let i = 1; i < CHAINS; i++) code.push(OP.localGet, acc(i), ...F32X4_ADD);
  code.push(...F32X4_EXTRACT_LANE, 0, OP.end);
  const locals = vec([[CHAINS + 1, 0x7b]]);
  const body = [...locals, ...code];
  return [...leb(body.length), ...body];
}

function peakModule(fused: boolean): Uint8Array {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 1, 0x7f, 1, 0x7d]])), // (i32) -> f32
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, 1]])), // one page of (zeroed) memory: a = 0, so nothing grows
    ...section(7, vec([[...leb(4), ...Buffer.from('loop'), 0x00, 0]])),
    ...section(10, vec([loopBody(fused)])),
  ]);
}

interface Wasm {
  validate(b: Uint8Array): boolean;
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: { loop(n: number): number } };
}
const WASM = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/**
 * The least CPU time (user + system of this process, ms) of `rounds` calls of fn, and the least
 * wall time. On a shared machine wall time mostly measures the other processes; CPU time only
 * counts the time this process ran (this single-threaded code; V8's background threads are idle
 * once the code is warm).
 */
export function bestTimes(fn: () => void, rounds: number): { cpuMs: number; wallMs: number } {
  let cpuMs = Infinity;
  let wallMs = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
    wallMs = Math.min(wallMs, wall);
  }
  return { cpuMs, wallMs };
}

/**
 * GFLOP/s of the loop (a multiply-add = 2 FLOPs per lane) by its least CPU time over `rounds`
 * runs of ~20 ms; undefined when the engine does not take the module (relaxed SIMD off).
 */
export function simdPeakGflops(fused: boolean, rounds = 15): number | undefined {
  const bytes = peakModule(fused);
  if (!WASM.validate(bytes)) return undefined;
  const { loop } = new WASM.Instance(new WASM.Module(bytes), {}).exports;
  for (let i = 0; i < 5; i++) loop(1e6); // tier up to TurboFan
  const n = 1.5e7;
  const { cpuMs } = bestTimes(() => loop(n), rounds);
  return (n * CHAINS * 4 * 2) / (cpuMs / 1000) / 1e9;
}
