/**
 * `npm run bench:export`: how long `akd export` takes on the example's student (the issue's goal:
 * under 5 s), fp32 and int8, as whole commands (process start, TF.js, data, conversion, the
 * verification in ONNX Runtime, writing), against an anchor measured in the same session: PyTorch
 * 1.13's `torch.onnx.export` of the same architecture in a fresh Python process (no data, no
 * verification: the bare export of the reference toolchain).
 *
 *   npm run bench:export [-- --run RUN_DIR ...] [--repeat N] [--json FILE]
 *
 * Without --run it trains examples/mnist-cnn-to-mlp.akd.json first (what `npm start` runs) into a
 * temporary folder. Each command runs --repeat times (default 3), the sides alternating; the
 * table has medians and ranges, the CPU model, its SIMD flags and the load average.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExportRecord } from '../runner/protocol/exportEvents';
import type { ExperimentConfig } from '../runner/protocol/configTypes';
import { parseExportEventLine } from '../runner/protocol/exportEvents';

const REPO = path.resolve(__dirname, '..', '..');
const AKD = path.join(REPO, 'bin', 'akd.js');
const PY = '/usr/bin/python3';

function flags(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && process.argv[i + 1]) out.push(process.argv[i + 1]);
  });
  return out;
}
const say = (msg: string): void => void process.stderr.write(msg + '\n');

function cpu(): { model: string; simd: string[]; cores: number } {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flagsLine = /flags\s*:\s*(.*)/.exec(info)?.[1].split(' ') ?? [];
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni'].filter((f) =>
    flagsLine.includes(f),
  );
  return { model, simd, cores: os.cpus().length };
}

function timed(
  cmd: string,
  args: string[],
): { seconds: number; stdout: string; stderr: string; status: number | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: REPO, maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;

/** torch.onnx.export of an MLP with the same layer sizes as the run's student (MLPs only). */
function torchScript(hidden: number[], inputs: number, classes: number, file: string): string {
  const sizes = [inputs, ...hidden, classes];
  const layers = sizes
    .slice(1)
    .map((n, i) => `torch.nn.Linear(${sizes[i]}, ${n})` + (i < sizes.length - 2 ? ', torch.nn.ReLU()' : ''))
    .join(', ');
  return [
    'import torch',
    `m = torch.nn.Sequential(torch.nn.Flatten(), ${layers}).eval()`,
    `torch.onnx.export(m, torch.zeros(1, 28, 28, 1), ${JSON.stringify(file)}, input_names=["pixels"], output_names=["logits"],`,
    '  dynamic_axes={"pixels": {0: "N"}, "logits": {0: "N"}}, opset_version=13)',
  ].join('\n');
}

function torchVersion(): string {
  return spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
}

function main(): number {
  const repeat = Number(flags('repeat')[0] ?? 3);
  const loadBefore = os.loadavg();
  let runDirs = flags('run').map((r) => path.resolve(r));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-bench-export-'));
  try {
    if (runDirs.length === 0) {
      say('bench: training examples/mnist-cnn-to-mlp.akd.json (what `npm start` runs) ...');
      const r = spawnSync(
        process.execPath,
        [AKD, 'run', path.join(REPO, 'examples', 'mnist-cnn-to-mlp.akd.json'), '--out', tmp],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      if (r.status !== 0) throw new Error('the example run failed');
      runDirs = fs.readdirSync(tmp).map((d) => path.join(tmp, d));
    }
    const rows: object[] = [];
    for (const runDir of runDirs) {
      const config = JSON.parse(
        fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'),
      ) as ExperimentConfig;
      const student = config.student.model;
      const torch =
        student.type === 'mlp' &&
        fs.existsSync(PY) &&
        spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0
          ? torchScript(student.hidden, 784, 10, path.join(tmp, 'torch.onnx'))
          : undefined;
      if (!torch)
        say(`bench: no PyTorch anchor for ${runDir} (needs an MLP student and Debian's python3-torch)`);
      const times: Record<string, number[]> = { fp32: [], int8: [], torch: [] };
      const records: Record<string, ExportRecord> = {};
      for (let i = 0; i < repeat; i++) {
        for (const precision of ['fp32', 'int8'] as const) {
          const r = timed(process.execPath, [
            AKD,
            'export',
            runDir,
            '--json',
            ...(precision === 'int8' ? ['--quantize', 'int8'] : []),
            '--out',
            path.join(tmp, `bench.${precision}.onnx`),
          ]);
          if (r.status !== 0) throw new Error(`akd export failed: ${r.stderr}`);
          const done = r.stdout.split('\n').map(parseExportEventLine).filter(Boolean).at(-1);
          if (done?.type !== 'export-completed') throw new Error(`akd export printed no result: ${r.stdout}`);
          records[precision] = done.record;
          times[precision].push(r.seconds);
        }
        if (torch) {
          const r = timed(PY, ['-c', torch]);
          if (r.status !== 0) throw new Error(`torch.onnx.export failed: ${r.stderr}`);
          times.torch.push(r.seconds);
        }
      }
      const fp32 = records.fp32;
      const int8 = records.int8;
      const row = {
        run: path.basename(runDir),
        student: student,
        fp32: {
          commandSeconds: median(times.fp32),
          range: range(times.fp32),
          inProcessSeconds: fp32.seconds,
          bytes: fp32.bytes,
          testAccuracy: fp32.verification.testAccuracy,
          tfjsTestAccuracy: fp32.verification.referenceAccuracy,
          maxLogitDiffRelative: fp32.verification.maxLogitDiffRelative,
        },
        int8: {
          commandSeconds: median(times.int8),
          range: range(times.int8),
          inProcessSeconds: int8.seconds,
          bytes: int8.bytes,
          sizeRatio: int8.quantization?.sizeRatio,
          testAccuracy: int8.verification.testAccuracy,
          dropPoints: int8.quantization?.accuracyDropPoints,
        },
        ...(times.torch.length
          ? {
              torchOnnxExportSeconds: median(times.torch),
              torchRange: range(times.torch),
              fp32VsTorch: median(times.fp32) / median(times.torch),
            }
          : {}),
      };
      rows.push(row);
      const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
      process.stdout.write(
        [
          `${row.run} (${student.type} student, ${fp32.verification.testSamples} test images)`,
          `  akd export (fp32):  ${row.fp32.commandSeconds.toFixed(2)} s [${row.fp32.range}] whole command, ${fp32.seconds.toFixed(2)} s inside; ${(fp32.bytes / 1000).toFixed(1)} kB; test ${pct(fp32.verification.testAccuracy)} vs TF.js ${pct(fp32.verification.referenceAccuracy)}; logits ${fp32.verification.maxLogitDiffRelative.toExponential(1)} relative`,
          `  akd export (int8):  ${row.int8.commandSeconds.toFixed(2)} s [${row.int8.range}] whole command, ${int8.seconds.toFixed(2)} s inside; ${(int8.bytes / 1000).toFixed(1)} kB (${int8.quantization!.sizeRatio.toFixed(2)}x fp32); test ${pct(int8.verification.testAccuracy)} (${(-int8.quantization!.accuracyDropPoints).toFixed(2)} points)`,
          ...(times.torch.length
            ? [
                `  anchor, PyTorch ${torchVersion()} torch.onnx.export of the same MLP (fresh process, no data, no verification): ${median(times.torch).toFixed(2)} s [${range(times.torch)}]; akd export fp32 / anchor = ${(median(times.fp32) / median(times.torch)).toFixed(2)}`,
              ]
            : []),
        ].join('\n') + '\n',
      );
    }
    const c = cpu();
    const loadAfter = os.loadavg();
    process.stdout.write(
      `CPU: ${c.model}, ${c.cores} cores, SIMD ${c.simd.join(' ')}; load average ${loadBefore[0].toFixed(1)} at the start, ${loadAfter[0].toFixed(1)} at the end; ${repeat} repeats, medians\n`,
    );
    const json = flags('json')[0];
    if (json)
      fs.writeFileSync(json, JSON.stringify({ cpu: c, loadBefore, loadAfter, repeat, rows }, null, 2) + '\n');
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = main();
