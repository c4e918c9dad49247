/**
 * The CPU every bench figure is printed with: model name and the SIMD extensions that bound what
 * each side can do (the runner's wasm SIMD is 128-bit whatever the CPU has; FMA decides whether
 * relaxed SIMD's fused multiply-add is one instruction; PyTorch's OpenBLAS uses AVX2/AVX-512).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface CpuDescription {
  model: string;
  cores: number;
  /** e.g. "SSE4.2, AVX, AVX2, FMA, AVX-512 (F, DQ, CD, BW, VL, IFMA, VBMI, VNNI, BF16)". */
  simd: string;
  /** The SIMD-related flags of /proc/cpuinfo, as the kernel spells them. */
  flags: string[];
}

const NAMED: Array<[string, string]> = [
  ['sse4_2', 'SSE4.2'],
  ['avx', 'AVX'],
  ['avx2', 'AVX2'],
  ['fma', 'FMA'],
  ['f16c', 'F16C'],
];

export function cpuDescription(): CpuDescription {
  let text = '';
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: the model from os.cpus(), no flags
  }
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const all = new Set((field('flags') ?? '').split(/\s+/).filter(Boolean));
  const flags = [...all].filter((f) => /^(sse|ssse|avx|fma|f16c|amx)/.test(f)).sort();
  const parts = NAMED.filter(([f]) => all.has(f)).map(([, name]) => name);
  const avx512 = [...all]
    .filter((f) => f.startsWith('avx512'))
    .map((f) => f.replace(/^avx512_?/, '').toUpperCase());
  if (avx512.length > 0) parts.push(`AVX-512 (${avx512.join(', ')})`);
  else if (all.size > 0) parts.push('no AVX-512');
  return {
    model: field('model name') ?? os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    simd: parts.length > 0 ? parts.join(', ') : 'SIMD flags unknown',
    flags,
  };
}
