/** Types of saturation.js (the harness is plain CommonJS so that its child processes run unbuilt). */

export interface Verdict {
  saturated: boolean;
  /** Why, in words (null when not saturated); too few samples to judge counts as saturated. */
  reason: string | null;
  /** Share of the schedule's sends that happened (null when not judged). */
  achieved: number | null;
  medianNs: number | null;
  firstThirdNs: number | null;
  lastThirdNs: number | null;
  growth: number | null;
}

export interface Series {
  /** Latencies in ns, in send order. */
  samples: Float64Array;
  intervalNs: number;
  /** Paced sends and the window they took; leave out when the sender cannot fall behind. */
  sends?: number | null;
  windowNs?: number | null;
}

export const MIN_ACHIEVED: number;
export const MAX_GROWTH: number;
export const MIN_TREND_SAMPLES: number;
export function judge(series: Series): Verdict;
