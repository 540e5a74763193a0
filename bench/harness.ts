/** A small measuring loop for the benchmarks: warm up, then run for a fixed time. */

export interface Measurement {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly meanMs: number;
  /** Optional throughput figure (records/s, GB/s) with its unit. */
  readonly throughput?: { value: number; unit: string };
}

export function measure(
  name: string,
  fn: () => void,
  options: { durationMs?: number; unitsPerOp?: number; unit?: string } = {},
): Measurement {
  const durationMs = options.durationMs ?? 1000;
  const warmupEnd = performance.now() + Math.min(300, durationMs / 3);
  while (performance.now() < warmupEnd) fn();
  let operations = 0;
  const started = performance.now();
  let now = started;
  while (now - started < durationMs) {
    for (let i = 0; i < 8; i++) fn();
    operations += 8;
    now = performance.now();
  }
  const elapsedMs = now - started;
  const opsPerSecond = (operations / elapsedMs) * 1000;
  const result: Measurement = { name, opsPerSecond, meanMs: elapsedMs / operations };
  if (options.unitsPerOp !== undefined && options.unit !== undefined) {
    return {
      ...result,
      throughput: { value: opsPerSecond * options.unitsPerOp, unit: options.unit },
    };
  }
  return result;
}

function formatNumber(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

export function printTable(title: string, rows: readonly Measurement[]): void {
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`\n${title} (node ${process.version}, ${new Date().toISOString()})`);
  for (const row of rows) {
    const throughput = row.throughput
      ? `  ${formatNumber(row.throughput.value)}${row.throughput.unit}`
      : '';
    console.log(
      `  ${row.name.padEnd(width)}  ${formatNumber(row.opsPerSecond).padStart(9)} ops/s  ${row.meanMs.toFixed(4).padStart(10)} ms/op${throughput}`,
    );
  }
}
