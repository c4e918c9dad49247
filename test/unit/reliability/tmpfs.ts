/**
 * A small tmpfs for the disk-full tests: a real filesystem that really fills up (ENOSPC from the
 * kernel, not a mock). Needs root (mount -t tmpfs); elsewhere the tests skip and say why.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Bytes still free for an unprivileged writer. */
  free(): number;
  /** Fill it up until only `leave` bytes are free (a filler file); returns the filler's path. */
  fill(leave: number): string;
  resize(bytes: number): void;
  unmount(): void;
}

const mounted: string[] = [];
process.on('exit', () => {
  for (const dir of mounted) spawnSync('umount', ['-l', dir]);
});

/** Mount a tmpfs of `bytes` at `<parent>/disk`, or return why it cannot be done here. */
export function mountSmallDisk(parent: string, bytes: number): SmallDisk | string {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (the CI machine runs the suite as root)';
  const dir = path.join(parent, 'disk');
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0)
    return `mount -t tmpfs is not permitted here: ${(r.stderr || r.error?.message || '').trim()}`;
  mounted.push(dir);
  const free = (): number => {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(leave: number): string {
      const filler = path.join(dir, `filler-${Date.now()}`);
      const fd = fs.openSync(filler, 'w');
      const chunk = Buffer.alloc(4096, 1);
      try {
        while (free() > leave + chunk.length) fs.writeSync(fd, chunk);
      } catch {
        /* full */
      } finally {
        fs.closeSync(fd);
      }
      return filler;
    },
    resize(size: number): void {
      spawnSync('mount', ['-o', `remount,size=${size}`, dir]);
    },
    unmount(): void {
      spawnSync('umount', ['-l', dir]);
      mounted.splice(mounted.indexOf(dir), 1);
    },
  };
}

/** Every path under `dir` whose name says it is a temporary file or folder of an atomic write. */
export function tempLeftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (/\.(tmp|old)-\d+$/.test(e.name) || /\.tmp$/.test(e.name)) out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}
