/** `90s`, `30m`, `12h`, `7d`, `1w`, `1h30m` → milliseconds. */
import { InvalidArgumentError } from 'commander';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(value: string): number {
  if (!/^(\d+[smhdw])+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not a duration like 90s, 30m, 12h, 7d or 1h30m.`);
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhdw])/g)) total += Number(amount) * UNIT_MS[unit!]!;
  if (total <= 0) throw new InvalidArgumentError('the duration must be positive.');
  return total;
}
