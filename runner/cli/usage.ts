/** `akd help`: every command and its flags. */
export const USAGE = `akd — Anneal KD: knowledge distillation experiments with TensorFlow.js

Usage:
  akd run CONFIG [--out DIR] [--json] [--backend auto|tensorflow|wasm|cpu] [--threads auto|N]
      Train the config's teacher and student; the run goes to .akd/runs/<id>/ beside CONFIG
      (or under DIR). --json streams the run's events to stdout, one JSON object per line.
      --threads: data-parallel training threads on wasm/cpu (overrides the config's "threads").
  akd resume RUN [--json] [--from previous]
      Continue a cancelled or crashed run from its last checkpoint (--from previous: from the one
      before it, when the last one is damaged; akd says so).
  akd run CONFIG --launcher slurm [--detach] ...   (also: akd resume RUN, akd sweep CONFIG|--resume DIR)
      Submit the run as a Slurm batch job (a sweep: a teacher job, then one job array; settings: the
      config's "launcher" block) and follow it like a local run; --detach returns after submitting
      and prints RUNDIR<TAB>JOBID. The repo and the run folder must be on a filesystem the compute
      nodes share. --launcher local overrides a config's slurm block.
  akd stop RUN|SWEEP_DIR [--wait SECONDS]  Stop a run or a sweep's running members (Slurm: scancel; local:
      SIGTERM): each checkpoints and ends cancelled.
  akd follow RUN [--json]      Re-attach to a run (a Slurm job, e.g. after --detach, or a local run
      started elsewhere) and follow it to its end; a local run whose process died says "crashed".
  akd validate CONFIG...       Check configs: exit 0 if valid, 2 if not; one line per problem.
  akd list [DIR]               The runs under DIR (default: ./.akd/runs).
  akd show RUN                 One run's summary. RUN is a run folder or an id under ./.akd/runs.
  akd sweep CONFIG [--seeds 1,2,3] [--methods scratch,kd,takd,annealing] [--out DIR]
                   [--concurrency N] [--teacher-cache DIR] [--dry-run] [--json]
      Expand the config's "sweep" block (the flags override it) into members, one \`akd\` process
      each, N at a time (default: the cores), sharing one teacher trained once and cached in
      .akd/teachers/. The sweep goes to .akd/sweeps/<id>/ beside CONFIG (or DIR).
  akd sweep --resume SWEEP_DIR [--retry-failed] [--json]   (also: akd resume SWEEP_DIR)
      Continue a stopped sweep: completed members are skipped, cancelled and crashed ones resumed.
  akd compare RUN_OR_SWEEP_DIR... [--csv FILE] [--md FILE] [--png FILE] [--svg FILE] [--title TEXT]
                   [--runs-csv FILE] [--best-only]
      Student test accuracy per method and swept setting: mean ± std over seeds (sample std), best,
      n, validation accuracy, the gap to the teacher, parameters, wall time. --png/--svg draw it for
      a paper column (3.4 in, 8 pt text; PNG at 300 dpi, SVG with its text as text): accuracy per
      method with error bars and each seed, and (FILE-phase1) the annealing phase-1 curves per T.
  akd compare RUN_OR_SWEEP_DIR... --json
      The comparison the editor's dashboard shows, as one JSON object: {runs (one per run: final and
      best accuracy, sizes, seconds, backend, student curve), groups (mean ± std per method and
      setting when a setting has several runs), errors (folders that could not be read)}.
  akd export RUN [--format onnx] [--quantize int8] [--model student|teacher] [--out FILE] [--json]
                 [--max-drop POINTS] [--calibration-images N]
      The run's student (or teacher) as ONNX: raw float32 pixels 0..255 NHWC [N,H,W,C] in, logits
      out, batchnorm folded; default RUN/export/student.onnx (student.int8.onnx). Verified in ONNX
      Runtime before it is written: fp32 within 0.1 point of the run's test accuracy and 1e-4 of its
      logits; int8 (static, calibrated on N training images, default 500) at most POINTS (1.5)
      below fp32. Recorded in the run's summary.json "exports".

Signals: SIGINT/SIGTERM stop at the next batch boundary, write a checkpoint and exit 130/143.`;
