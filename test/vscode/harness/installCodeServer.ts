/**
 * Installs code-server 4.100.3 (VS Code 1.100.3, the newest whose engines.node is 20) into
 * `.vscode-test/code-server-4.100.3/`, the way test-electron keeps VS Code in `.vscode-test/`,
 * so it stays out of the extension's dependency tree. Offline-safe: see
 * shared/docs/real-vscode-offline.md for the three fixes applied here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';
const APT_PACKAGES = ['chromium', 'ripgrep', 'libkrb5-dev'];

export interface CodeServerInstall {
  /** The code-server launcher (a Node script). */
  bin: string;
  /** Seconds spent installing; 0 when it was cached. */
  installSeconds: number;
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function aptMissing(): string[] {
  return APT_PACKAGES.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
}

/** chromium drives the workbench; rg and gssapi.h are needed by code-server's own install. */
export function ensureSystemPackages(log: (s: string) => void): void {
  const missing = which('dpkg') ? aptMissing() : [];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `missing system packages: ${missing.join(' ')} (apt-get install -y ${missing.join(' ')})`,
    );
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
}

export function installCodeServer(root: string, log: (s: string) => void = console.log): CodeServerInstall {
  const dir = path.join(root, '.vscode-test', `code-server-${CODE_SERVER_VERSION}`);
  const bin = path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const marker = path.join(dir, '.installed');
  ensureSystemPackages(log);
  if (fs.existsSync(marker) && fs.existsSync(bin)) return { bin, installSeconds: 0 };

  const t0 = Date.now();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'code-server-cache', private: true }, null, 2),
  );
  // @vscode/ripgrep would download rg from GitHub; it first looks for this tarball.
  const rgCache = path.join(os.tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  const rgTar = path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
  if (!fs.existsSync(rgTar)) {
    fs.mkdirSync(rgCache, { recursive: true });
    execFileSync('tar', ['czf', rgTar, '-C', '/usr/bin', 'rg']);
  }
  log(`installing code-server ${CODE_SERVER_VERSION} into ${dir} (about 80 s)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(
    npm,
    ['install', `code-server@${CODE_SERVER_VERSION}`, '--no-audit', '--no-fund', '--no-save'],
    {
      cwd: dir,
      stdio: 'inherit',
      env: {
        ...process.env,
        npm_config_unsafe_perm: 'true', // its postinstall refuses root without it
        npm_config_yes: 'true', // node-pty's postinstall runs `npx node-gyp`
      },
    },
  );
  if (!fs.existsSync(bin)) throw new Error(`code-server installed but ${bin} is missing`);
  fs.writeFileSync(marker, new Date().toISOString() + '\n');
  return { bin, installSeconds: (Date.now() - t0) / 1000 };
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..', '..', '..');
  const r = installCodeServer(process.argv[2] ? path.resolve(process.argv[2]) : root);
  console.log(`code-server: ${r.bin} (install ${r.installSeconds.toFixed(0)} s)`);
}
