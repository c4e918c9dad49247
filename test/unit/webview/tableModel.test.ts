/**
 * The experiments table as data: rows from configs and summaries (runner/protocol/experiments),
 * the varying keys, filters, sorting, groups folding seeds into mean ± sample std (the same
 * statistics as `akd compare`), the CSV, and the contract's validation of the page's messages.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExperimentConfig } from '../../../runner/protocol/configTypes';
import type { RunSummary } from '../../../runner/protocol/events';
import {
  experimentRow,
  flattenConfig,
  groupRows,
  statusText,
  varyingKeys,
  type ExperimentRow,
} from '../../../runner/protocol/experiments';
import { summarize } from '../../../runner/protocol/stats';
import {
  DEFAULT_VIEW_STATE,
  parseExperimentsMessage,
  experimentsRejectReason,
  type ExperimentsViewState,
} from '../../../webview/experiments/messages';
import {
  cellText,
  defaultColumnIds,
  displayItems,
  filterRows,
  groupCellText,
  sortRows,
  toCsv,
  uniqueLabels,
  visibleColumns,
} from '../../../webview/experiments/tableModel';
import { annealingConfig } from '../../helpers/runEvents';

function config(method: 'annealing' | 'kd', seed: number, tauMax = 2): ExperimentConfig {
  const c = structuredClone(annealingConfig) as ExperimentConfig;
  c.seed = seed;
  if (method === 'kd') {
    c.method = {
      type: 'kd',
      epochs: 5,
      optimizer: { type: 'adam', learningRate: 0.003 },
      temperature: 4,
      alpha: 0.9,
    };
  } else if (c.method.type === 'annealing') c.method.tauMax = tauMax;
  return c;
}

function summary(method: string, test: number, o: { reference?: boolean; val?: number } = {}): RunSummary {
  return {
    runId: 'r',
    name: 'tiny',
    status: 'completed',
    backend: 'wasm',
    method: method as RunSummary['method'],
    teacher: { type: 'mlp', params: 25450, source: 'trained', testAccuracy: 0.95 },
    student: {
      type: 'mlp',
      params: 6370,
      source: 'trained',
      testAccuracy: test,
      ...(o.reference ? { finalTestAccuracy: test - 0.01 } : {}),
    },
    ...(o.reference ? { protocol: 'reference' as const } : {}),
    compression: 25450 / 6370,
    phases: [
      { phase: 'teacher', epochs: 2, bestValAccuracy: 0.99, bestEpoch: 2, finalValAccuracy: 0.99 },
      {
        phase: method === 'annealing' ? 'finetune' : 'kd',
        epochs: 2,
        bestValAccuracy: o.val ?? test + 0.01,
        bestEpoch: 1,
        finalValAccuracy: test,
        ...(o.reference ? { selectedOn: 'test' as const } : {}),
      },
    ],
    startedAt: '2026-01-01T00:00:00Z',
    seconds: 12,
  };
}

let n = 0;
function row(method: 'annealing' | 'kd', seed: number, test: number | null, tauMax = 2): ExperimentRow {
  n++;
  const runId = `2026010${n % 10}-0000${String(n).padStart(2, '0')}-tiny`;
  return experimentRow({
    runDir: `/ws/.akd/runs/${runId}`,
    runId,
    config: config(method, seed, tauMax),
    ...(test !== null ? { summary: summary(method, test) } : {}),
    state:
      test === null
        ? { status: 'running', phase: 'anneal', temperature: 2, epoch: 1, epochs: 4 }
        : { status: 'completed' },
  });
}

const view = (over: Partial<ExperimentsViewState> = {}): ExperimentsViewState => ({
  ...DEFAULT_VIEW_STATE,
  ...over,
});

describe('experiment rows', () => {
  it('flatten the resolved config to dotted keys, arrays as one cell, without the name', () => {
    const flat = flattenConfig(config('annealing', 3));
    assert.equal(flat['method.tauMax'], 2);
    assert.equal(flat['method.phase1.optimizer.learningRate'], 0.003);
    assert.equal(flat['student.model.hidden'], '[8]');
    assert.equal(flat.seed, 3);
    assert.equal(flat.name, undefined);
  });

  it('carry the metrics: final, best validation, teacher, gap, sizes; best test only under the reference protocol', () => {
    const r = row('annealing', 1, 0.9);
    assert.equal(r.metrics.finalTest, 0.9);
    assert.ok(Math.abs((r.metrics.bestVal ?? 0) - 0.91) < 1e-12);
    assert.equal(r.metrics.bestTest, null, 'a held-out run measures test once');
    assert.ok(Math.abs((r.metrics.gap ?? 0) - 0.05) < 1e-12);
    assert.equal(r.metrics.studentParams, 6370);
    assert.equal(r.metrics.backend, 'wasm');
    const ref = experimentRow({
      runDir: '/ws/ref',
      runId: 'ref',
      config: config('annealing', 1),
      summary: summary('annealing', 0.92, { reference: true }),
    });
    assert.equal(ref.protocol, 'reference');
    assert.equal(ref.metrics.bestTest, 0.92);
    assert.ok(Math.abs((ref.metrics.finalTest ?? 0) - 0.91) < 1e-12);
    assert.equal(ref.metrics.bestVal, null, 'selected on test: no validation accuracy');
  });

  it('say where a running run is', () => {
    assert.equal(statusText(row('annealing', 1, null)), 'running · anneal T=2 · 1/4');
  });

  it('vary in the keys whose values differ', () => {
    const rows = [row('annealing', 1, 0.9), row('annealing', 2, 0.91), row('kd', 1, 0.88)];
    const keys = varyingKeys(rows);
    assert.ok(keys.includes('seed'));
    assert.ok(keys.includes('method.type'));
    assert.ok(keys.includes('method.tauMax'), 'missing in the kd run: it differs');
    assert.ok(!keys.includes('batchSize') && !keys.includes('student.model.hidden'));
  });
});

describe('the table model', () => {
  const rows = [
    row('annealing', 1, 0.9, 2),
    row('annealing', 2, 0.92, 2),
    row('annealing', 3, 0.91, 2),
    row('annealing', 1, 0.85, 4),
    row('kd', 1, 0.88),
    row('kd', 2, 0.86),
    row('annealing', 4, null, 2),
  ];

  it('shows the run, the results, the varying keys by their last segment (full path as tooltip)', () => {
    const ids = defaultColumnIds(rows);
    assert.deepEqual(ids.slice(0, 3), ['run:name', 'run:status', 'run:method']);
    assert.ok(
      ids.indexOf('metric:finalTest') < ids.indexOf('config:method.tauMax'),
      'results before settings',
    );
    assert.ok(!ids.includes('config:method.type') && !ids.includes('config:batchSize'));
    const cols = visibleColumns(rows, view());
    const tau = cols.find((c) => c.id === 'config:method.tauMax')!;
    assert.equal(tau.label, 'tauMax');
    assert.equal(tau.title, 'method.tauMax');
    // Where last segments collide, as many segments as tell them apart.
    const labels = uniqueLabels([
      { id: 'config:method.phase1.epochs', label: 'epochs', title: 'method.phase1.epochs', kind: 'number' },
      { id: 'config:method.phase2.epochs', label: 'epochs', title: 'method.phase2.epochs', kind: 'number' },
      { id: 'config:method.tauMax', label: 'tauMax', title: 'method.tauMax', kind: 'number' },
    ]).map((c) => c.label);
    assert.deepEqual(labels, ['phase1.epochs', 'phase2.epochs', 'tauMax']);
  });

  it('filters by text over the cells and by numeric range (percent columns as fractions)', () => {
    const cols = visibleColumns(rows, view());
    assert.equal(filterRows(rows, { text: 'kd', ranges: [] }, cols).length, 2);
    assert.equal(filterRows(rows, { text: 'running', ranges: [] }, cols).length, 1);
    const ranged = filterRows(
      rows,
      { text: '', ranges: [{ column: 'metric:finalTest', min: 0.89, max: null }] },
      cols,
    );
    assert.deepEqual(
      ranged.map((r) => r.metrics.finalTest),
      [0.9, 0.92, 0.91],
    );
  });

  it('sorts numbers numerically, missing values last in both directions', () => {
    for (const descending of [false, true]) {
      const sorted = sortRows(rows, { column: 'metric:finalTest', descending });
      assert.equal(sorted[sorted.length - 1].metrics.finalTest, null);
      const xs = sorted.map((r) => r.metrics.finalTest).filter((x): x is number => x !== null);
      assert.deepEqual(
        xs,
        [...xs].sort((a, b) => (descending ? b - a : a - b)),
      );
    }
  });

  it('groups fold seeds into mean ± sample std and n, as akd compare computes them', () => {
    const state = view({ groupBy: ['run:method', 'config:method.tauMax'], sort: null });
    const cols = visibleColumns(rows, state);
    const items = displayItems(rows, state, cols, new Set());
    const groups = items.filter((i) => i.kind === 'group');
    assert.equal(groups.length, 3);
    assert.ok(
      items.every((i) => i.kind === 'group'),
      'folded by default',
    );
    const g = groups.find((i) => i.kind === 'group' && i.group.values['config:method.tauMax'] === 2)!;
    if (g.kind !== 'group') throw new Error();
    assert.equal(g.group.n, 3, 'the running run is not counted');
    assert.equal(g.group.rows.length, 4);
    const s = summarize([0.9, 0.92, 0.91]);
    assert.ok(Math.abs(g.group.stats['metric:finalTest'].mean - s.mean) < 1e-12);
    assert.ok(Math.abs(g.group.stats['metric:finalTest'].std - s.std) < 1e-12);
    const testCol = cols.find((c) => c.id === 'metric:finalTest')!;
    assert.equal(
      groupCellText(g.group, testCol, state.groupBy),
      `${(s.mean * 100).toFixed(2)} ± ${(s.std * 100).toFixed(2)}`,
    );
    assert.match(g.group.label, /method=annealing · tauMax=2/);
    // Unfolded: the group's runs follow its row.
    const open = displayItems(rows, state, cols, new Set([g.key]));
    assert.equal(open.length, 3 + 4);
    // The same statistics as groupRows over the rows directly.
    const direct = groupRows(rows, ['run:method'], ['metric:finalTest']);
    assert.equal(direct.find((x) => x.values['run:method'] === 'kd')!.stats['metric:finalTest'].n, 2);
  });

  it("shows a run's star and note (from its state, i.e. meta.json) once some run has one, and filters on them", () => {
    const plain = row('kd', 3, 0.87);
    assert.ok(!defaultColumnIds([...rows, plain]).includes('run:starred'), 'no star yet: no column');
    const marked = experimentRow({
      runDir: '/ws/.akd/runs/marked',
      runId: '20260109-000099-tiny',
      config: config('kd', 4),
      summary: summary('kd', 0.89),
      state: { status: 'completed', starred: true, note: 'the one for the paper:\nlr 3e-3,  T=4' },
    });
    assert.equal(marked.starred, true);
    const all = [...rows, plain, marked];
    const ids = defaultColumnIds(all);
    assert.ok(ids.includes('run:starred') && ids.includes('run:note'));
    const cols = visibleColumns(all, view());
    const note = cols.find((c) => c.id === 'run:note')!;
    assert.equal(cellText(marked, note), 'the one for the paper: lr 3e-3, T=4', 'folded into one line');
    assert.equal(
      cellText(
        marked,
        cols.find((c) => c.id === 'run:starred')!,
      ),
      '★',
    );
    assert.equal(cellText(plain, note), '');
    const only = filterRows(all, { text: '', ranges: [], starredOnly: true }, cols);
    assert.deepEqual(
      only.map((r) => r.runId),
      [marked.runId],
    );
    // The note is searched even when its column is hidden.
    const noNote = cols.filter((c) => c.id !== 'run:note');
    assert.deepEqual(
      filterRows(all, { text: 'paper', ranges: [] }, noNote).map((r) => r.runId),
      [marked.runId],
    );
    // Sorting by the star puts starred runs first (descending), the rest after.
    assert.equal(sortRows(all, { column: 'run:starred', descending: true })[0].runId, marked.runId);
  });

  it('exports the visible table as CSV, full paths as headers, accuracies as fractions', () => {
    const cols = visibleColumns(rows, view());
    const csv = toCsv(displayItems(rows, view(), cols, new Set()), cols, [])
      .trim()
      .split('\n');
    assert.equal(csv.length, 1 + rows.length);
    assert.match(csv[0], /^run_dir,name,status,method,finalTest,bestTest,bestVal,teacher,gap,/);
    assert.ok(csv[0].includes('method.tauMax'));
    assert.ok(csv.some((l) => l.includes(',0.92,')));
    assert.equal(
      cellText(
        rows[1],
        cols.find((c) => c.id === 'metric:finalTest')!,
      ),
      '92.00',
    );
  });
});

describe('the experiments contract', () => {
  it('accepts its messages', () => {
    assert.deepEqual(parseExperimentsMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseExperimentsMessage({ type: 'state', state: DEFAULT_VIEW_STATE }), {
      type: 'state',
      state: DEFAULT_VIEW_STATE,
    });
    assert.deepEqual(
      parseExperimentsMessage({ type: 'action', action: 'diffConfigs', runDirs: ['/a', '/b'] }),
      {
        type: 'action',
        action: 'diffConfigs',
        runDirs: ['/a', '/b'],
      },
    );
    const starred = { ...DEFAULT_VIEW_STATE, starredOnly: true };
    assert.deepEqual(parseExperimentsMessage({ type: 'state', state: starred }), {
      type: 'state',
      state: starred,
    });
    assert.ok(parseExperimentsMessage({ type: 'exportCsv', csv: 'a,b\n1,2\n' }));
    assert.ok(
      parseExperimentsMessage({
        type: 'exportPng',
        plot: 'parallel',
        dataUrl: 'data:image/png;base64,iVBORw0KGgo=',
      }),
    );
  });

  it('rejects anything else, saying why', () => {
    for (const bad of [
      null,
      [],
      { type: 'nope' },
      { type: 'action', action: 'rm', runDirs: ['/a'] },
      { type: 'action', action: 'stopRun', runDirs: [] },
      { type: 'action', action: 'stopRun', runDirs: ['/a\0'] },
      { type: 'exportPng', plot: 'scatter', dataUrl: 'javascript:alert(1)' },
      { type: 'state', state: { ...DEFAULT_VIEW_STATE, extra: 1 } },
      { type: 'state', state: { ...DEFAULT_VIEW_STATE, ranges: [{ column: 'x', min: 'a', max: null }] } },
      { type: 'ready', state: DEFAULT_VIEW_STATE, more: true },
      { type: 'state', state: { ...DEFAULT_VIEW_STATE, starredOnly: 'yes' } },
    ]) {
      assert.equal(parseExperimentsMessage(bad), undefined, JSON.stringify(bad));
      assert.ok(experimentsRejectReason(bad));
    }
  });
});
