/**
 * What a run asks of a shared teacher's cache: the teacher's forward results on one dataset
 * (training-split logits, test accuracy), kept beside a cached teacher's checkpoint so the
 * members of a sweep compute them once. The run does not know where or how they are stored: the
 * implementation (runner/sweep/teacherCache.ts) is passed in by whoever starts the run (the
 * launch layer), so training imports nothing above it. Without one, a run computes them itself.
 */
export interface TeacherResultsCache {
  /** The teacher's logits of the training split [n, classes], if this teacher folder holds them for this data. */
  readLogits(
    teacherDir: string,
    dataFingerprint: string,
    n: number,
    classes: number,
  ): Float32Array | undefined;
  writeLogits(teacherDir: string, dataFingerprint: string, logits: Float32Array): void;
  readTestAccuracy(teacherDir: string, dataFingerprint: string): number | undefined;
  writeTestAccuracy(teacherDir: string, dataFingerprint: string, testAccuracy: number): void;
}
