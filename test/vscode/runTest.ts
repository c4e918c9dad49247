/**
 * The same host suites on a desktop VS Code, with @vscode/test-electron (downloads VS Code, so it
 * needs the internet or `VSCODE_EXECUTABLE`; not used on the offline CI machines, where
 * test/vscode/harness/runHostTests.ts runs them in code-server instead).
 *   tsc -p . && node extension/esbuild.mjs && tsc -p test/vscode && node out/test/vscode/runTest.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..', '..');
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-ws-'));
  fs.cpSync(path.join(root, 'test', 'vscode', 'fixtures', 'workspace'), workspace, { recursive: true });
  await runTests({
    version: '1.100.3',
    vscodeExecutablePath: process.env.VSCODE_EXECUTABLE,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(__dirname, 'suite', 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    extensionTestsEnv: { AKD_TEST_RESULTS: path.join(root, '.test-results') },
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
