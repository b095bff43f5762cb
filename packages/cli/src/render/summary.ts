/** The closing line of a backup, restore or verify: segments, bytes, time, rate, ratio. */
import { formatBytes, formatDuration, formatRate } from '@shmsnap/core';

export interface TransferSummary {
  readonly phase: string;
  readonly segments: number;
  readonly rawBytes: number;
  readonly storedBytes?: number;
  readonly elapsedMs: number;
}

export function summaryLine(s: TransferSummary): string {
  const rate = s.elapsedMs > 0 ? (s.rawBytes * 1000) / s.elapsedMs : 0;
  const stored = s.storedBytes === undefined
    ? ''
    : `, ${formatBytes(s.storedBytes)} stored (ratio ${(s.storedBytes > 0 ? s.rawBytes / s.storedBytes : 1).toFixed(2)})`;
  return `${s.phase}: ${s.segments} segments, ${formatBytes(s.rawBytes)} raw${stored}, ${formatDuration(s.elapsedMs)}, ${formatRate(rate)}`;
}

export function summaryJson(s: TransferSummary): Record<string, unknown> {
  const seconds = s.elapsedMs / 1000;
  return {
    segments: s.segments,
    rawBytes: s.rawBytes,
    ...(s.storedBytes === undefined ? {} : { storedBytes: s.storedBytes, ratio: s.storedBytes > 0 ? s.rawBytes / s.storedBytes : 1 }),
    seconds,
    megabytesPerSecond: seconds > 0 ? s.rawBytes / 1e6 / seconds : 0,
  };
}
