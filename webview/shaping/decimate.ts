/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the visual shape of a
 * long series with `threshold` points, so a chart of 10,000 epochs or progress samples draws as
 * fast as one of a few hundred. Pure; points with y === null (gaps) are dropped first.
 */
import type { XY } from '../../runner/protocol/series';

export interface Point {
  x: number;
  y: number;
}

export function lttb(data: readonly XY[], threshold: number): Point[] {
  const points = data.filter((p): p is Point => p.y !== null && Number.isFinite(p.y));
  const n = points.length;
  if (threshold >= n || threshold <= 2)
    return threshold <= 2 && n > 2 ? [points[0], points[n - 1]] : points.slice();
  const out: Point[] = [points[0]];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // The average of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += points[j].x;
      avgY += points[j].y;
    }
    const len = Math.max(1, nextEnd - nextStart);
    avgX /= len;
    avgY /= len;
    // Pick the point of this bucket that makes the largest triangle with the last kept one.
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const pa = points[a];
    let maxArea = -1;
    let chosen = start;
    for (let j = start; j < end; j++) {
      const area = Math.abs((pa.x - avgX) * (points[j].y - pa.y) - (pa.x - points[j].x) * (avgY - pa.y));
      if (area > maxArea) {
        maxArea = area;
        chosen = j;
      }
    }
    out.push(points[chosen]);
    a = chosen;
  }
  out.push(points[n - 1]);
  return out;
}

/** How many points a chart of `pixels` width needs: about two per pixel, at least 200. */
export function pointBudget(pixels: number): number {
  return Math.max(200, Math.round(2 * (Number.isFinite(pixels) ? pixels : 500)));
}

/** The series as drawn: itself when short enough, else its LTTB downsampling. */
export function shapeForChart(data: readonly XY[], budget: number): XY[] {
  return data.length <= budget ? data.slice() : lttb(data, budget);
}
