/**
 * The extension-host entry of the integration suites (the `extensionTestsPath` contract shared by
 * @vscode/test-electron and the code-server harness): runs mocha over suite/*.test.js and writes
 * `.test-results/host.json` ({passed, failed, tests: [{title, state}]}), since the host's console
 * reaches the test process only indirectly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface TestResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  error?: string;
  ms?: number;
}

export function run(): Promise<void> {
  const resultsDir = process.env.AKD_TEST_RESULTS ?? path.join(REPO_ROOT, '.test-results');
  const mocha = new Mocha({ ui: 'tdd', timeout: 60_000, color: false, reporter: 'spec' });
  const grep = process.env.AKD_TEST_GREP;
  if (grep) mocha.grep(grep);
  for (const f of fs
    .readdirSync(__dirname)
    .filter((n) => n.endsWith('.test.js'))
    .sort())
    mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const tests: TestResult[] = [];
    const runner = mocha.run((failures) => {
      const passed = tests.filter((t) => t.state === 'passed').length;
      const failed = tests.filter((t) => t.state === 'failed').length;
      fs.mkdirSync(resultsDir, { recursive: true });
      fs.writeFileSync(
        path.join(resultsDir, 'host.json'),
        JSON.stringify({ passed, failed, tests }, null, 2) + '\n',
      );
      if (failures > 0) reject(new Error(`${failures} host test(s) failed`));
      else resolve();
    });
    runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
    runner.on('fail', (t, e: unknown) =>
      tests.push({
        title: t.fullTitle(),
        state: 'failed',
        error: String((e as Error)?.stack ?? e).slice(0, 2000),
      }),
    );
    runner.on('pending', (t) => tests.push({ title: t.fullTitle(), state: 'pending' }));
  });
}
