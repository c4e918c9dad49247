/**
 * Chooses and initializes the TF.js backend for a run.
 *
 * One tf instance: everything must use the module returned by `tf()` (= `@tensorflow/tfjs`, which
 * re-exports @tensorflow/tfjs-core). @tensorflow/tfjs-node and @tensorflow/tfjs-backend-wasm do
 * not bring their own engine: they `require('@tensorflow/tfjs')` / `@tensorflow/tfjs-core` and
 * register their backend and kernels into that module's engine and kernel registry (both live
 * on the global object). With matching versions (all 4.22.0 here) npm dedupes them to the one
 * top-level copy; with a mismatch tfjs-node would get a nested copy whose tensors our code
 * could not safely mix with, so we report the mismatch in the note.
 */
import tfjs = require('@tensorflow/tfjs');
import type { BackendName } from '../protocol/configTypes';
import type { ActualBackend } from '../protocol/events';
import { registerWasmTrainingKernels } from './wasmKernels';
import { installFusedAdam } from './fusedAdam';
import { installFusedBatchNorm } from './fusedBatchNorm';
import { SimdGemm } from './simd/gemmModule';

export interface BackendChoice {
  backend: ActualBackend;
  /** Which backend runs and why, e.g. "wasm (SIMD, 1 thread): @tensorflow/tfjs-node is not installed". */
  note: string;
}

/** The single tf module instance everyone must use. */
export function tf(): typeof import('@tensorflow/tfjs') {
  return tfjs;
}

const TFJS_NODE = '@tensorflow/tfjs-node';
const INSTALL_HINT =
  `(re)install it with \`npm install ${TFJS_NODE}@${tfjs.version_core}\` (its install script downloads ` +
  'libtensorflow, so it needs internet access), or use backend "auto", "wasm" or "cpu"';

type NodeLoad = { ok: true; warning?: string } | { ok: false; reason: string };
let nodeLoad: NodeLoad | undefined;

/** Loads tfjs-node once (a failed require is not cached by Node, so we cache the outcome). */
function loadTfjsNode(): NodeLoad {
  if (nodeLoad) return nodeLoad;
  // libtensorflow logs CPU-feature banners on stderr unless told otherwise.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const node = require(TFJS_NODE) as { version?: Record<string, string> };
    if (tfjs.findBackendFactory('tensorflow') == null) {
      nodeLoad = {
        ok: false,
        reason: `loaded but did not register a 'tensorflow' backend with this @tensorflow/tfjs`,
      };
    } else {
      const core = node.version?.['tfjs-core'];
      nodeLoad =
        core != null && core !== tfjs.version_core
          ? { ok: true, warning: `${TFJS_NODE} uses tfjs-core ${core}, this runner ${tfjs.version_core}` }
          : { ok: true };
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const firstLine = String(e?.message ?? err).split('\n')[0];
    // MODULE_NOT_FOUND for the package itself means "not installed"; for anything inside it
    // (e.g. the native tfjs_binding.node) it is a broken install.
    nodeLoad =
      e?.code === 'MODULE_NOT_FOUND' && firstLine.includes(`'${TFJS_NODE}'`)
        ? { ok: false, reason: `${TFJS_NODE} is not installed` }
        : { ok: false, reason: `${TFJS_NODE} failed to load (${firstLine})` };
  }
  return nodeLoad;
}

async function useTensorflow(): Promise<void> {
  if (!(await tfjs.setBackend('tensorflow'))) throw new Error(`${TFJS_NODE} failed to initialize`);
  await tfjs.ready();
}

/**
 * Initializes wasm with the training kernels; returns e.g. "SIMD, 1 thread, relaxed-SIMD kernels"
 * (which build of simd/gemm.c runs: "relaxed-SIMD" with fused multiply-adds, "SIMD", or
 * "composite" kernels where the module cannot load).
 */
async function useWasm(): Promise<string> {
  // In Node the .wasm binaries load from the package's dist/ (no setWasmPaths needed), and the
  // helpers live on the module itself (`tf.wasm` is only defined in the browser bundle).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  installFusedAdam();
  installFusedBatchNorm();
  if (!(await tfjs.setBackend('wasm'))) throw new Error('the wasm backend failed to initialize');
  await tfjs.ready();
  const simd = await tfjs.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount();
  const gemm = SimdGemm.for(tfjs.backend());
  const kernels = gemm ? (gemm.kernels === 'relaxed-simd' ? 'relaxed-SIMD' : 'SIMD') : 'composite';
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}, ${kernels} kernels`;
}

async function useCpu(): Promise<void> {
  installFusedAdam();
  if (!(await tfjs.setBackend('cpu'))) throw new Error('the cpu backend failed to initialize');
  await tfjs.ready();
  // The cpu backend prints a "looks like you are running TensorFlow.js in Node.js ... install
  // our node backend" banner on its first write; our note already says why cpu runs.
  // (`firstUse` is a field of tfjs-backend-cpu 4.22.0's MathBackendCPU.)
  const cpu = tfjs.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const warn = (w: string | undefined): string => (w ? ` (warning: ${w})` : '');

export async function selectBackend(requested: BackendName): Promise<BackendChoice> {
  switch (requested) {
    case 'tensorflow': {
      const load = loadTfjsNode();
      if (!load.ok) {
        throw new Error(`backend "tensorflow" needs ${TFJS_NODE}, but ${load.reason}: ${INSTALL_HINT}`);
      }
      await useTensorflow();
      return {
        backend: 'tensorflow',
        note: `tensorflow (native, ${TFJS_NODE}): requested` + warn(load.warning),
      };
    }
    case 'wasm':
      return { backend: 'wasm', note: `wasm (${await useWasm()}): requested` };
    case 'cpu':
      await useCpu();
      return { backend: 'cpu', note: 'cpu (pure JavaScript, slow for convolutions): requested' };
    case 'auto': {
      const load = loadTfjsNode();
      if (load.ok) {
        await useTensorflow();
        const note = `tensorflow (native, ${TFJS_NODE}): the fastest available` + warn(load.warning);
        return { backend: 'tensorflow', note };
      }
      try {
        return { backend: 'wasm', note: `wasm (${await useWasm()}): ${load.reason}` };
      } catch (err) {
        await useCpu();
        return {
          backend: 'cpu',
          note: `cpu (pure JavaScript, slow for convolutions): ${load.reason}; wasm failed: ${message(err)}`,
        };
      }
    }
    default: {
      const never: never = requested;
      throw new Error(`unknown backend "${String(never)}": use "auto", "tensorflow", "wasm" or "cpu"`);
    }
  }
}
