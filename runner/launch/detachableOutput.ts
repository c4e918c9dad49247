/**
 * A run launched by the editor keeps training when the editor goes away (a window reload closes
 * the pipes to its stdout/stderr): writes to a closed pipe fail with EPIPE, which would otherwise
 * kill the process at its next event. Events still reach events.jsonl, which the editor re-reads.
 */
const closed = new WeakSet<NodeJS.WritableStream>();

function guard(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') closed.add(stream);
    else throw e;
  });
}

let installed = false;
export function surviveClosedPipes(): void {
  if (installed) return;
  installed = true;
  guard(process.stdout);
  guard(process.stderr);
}

/** Write unless the reader is gone. */
export function writeIfOpen(stream: NodeJS.WriteStream, text: string): void {
  if (!closed.has(stream) && !stream.destroyed) stream.write(text);
}
