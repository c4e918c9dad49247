/**
 * The one line a failed run ends with. Errors thrown by the run's own checks already say what and
 * where; what comes out of the backend itself does not, so it gets the context a person needs.
 */
import type { ActualBackend, ModelInfo } from '../protocol/events';

export function failureMessage(
  err: Error,
  backend: ActualBackend,
  models: { role: string; info: ModelInfo | undefined }[],
): string {
  // The wasm backend's heap: a model past its reach corrupts or exhausts it (WebAssembly.RuntimeError).
  if (
    backend === 'wasm' &&
    /memory access out of bounds|out of memory|Cannot allocate Wasm memory/i.test(err.message)
  ) {
    const largest = models
      .filter((m) => m.info && m.info.params > 0)
      .sort((a, b) => b.info!.params - a.info!.params)[0];
    const which = largest
      ? `the ${largest.role} has ${largest.info!.params.toLocaleString('en-US')} parameters, `
      : '';
    return (
      `the wasm backend failed (${err.message}): ${which}more than training on wasm can hold; ` +
      'use "backend": "cpu" (slow) or install @tensorflow/tfjs-node for this model'
    );
  }
  return err.message;
}
