/**
 * The broker's footprint without any client: the time from spawning `brook serve` to its
 * "listening" line, and its RSS one second later, idle. Next to it, in the same run and measured
 * the same way, what the layers underneath cost: Node alone, then Node importing
 * `@brook/protocol`, `@brook/storage` and `@brook/broker` (with the compile cache on, as `brook`
 * has it). RSS is split into anonymous memory (heaps) and file-backed pages (mostly the node
 * binary's code and data, which the kernel can drop and share).
 *
 * The first start of each kind is not counted: it fills Node's compile cache, which every later
 * start reads (as a user's second start would).
 *
 * Run: npm run bench -- footprint   (BROOK_BENCH_RUNS=15 for more runs; 7 by default)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BROOK_BENCH_RUNS ?? 7);
const CLI = join(root, 'packages/cli/src/main.js');

interface Sample {
  readonly readyMs: number;
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
}

function statusMb(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

/** Spawns node with `args`, waits for `ready` on its stdout, then 1 s, and reads its memory. */
async function sample(args: string[], ready: RegExp): Promise<Sample> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const readyMs = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      if (ready.test(output)) resolve(performance.now() - started);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const memory = statusMb(child.pid!);
  child.kill('SIGTERM');
  await exited;
  return { readyMs, ...memory };
}

/** A module-type program that turns the compile cache on, imports `specifier`, and idles. */
function importing(specifier: string | undefined): string[] {
  // Flushed at once: killed with SIGTERM, the program would exit without writing the cache.
  const load =
    specifier === undefined ? '' : `await import('${specifier}'); module.flushCompileCache();`;
  return [
    '--input-type=module',
    '-e',
    `import module from 'node:module'; module.enableCompileCache(); ${load} console.log('ready'); setInterval(() => {}, 1 << 30);`,
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function row(name: string, samples: Sample[]): string {
  const rss = samples.map((s) => s.rss);
  const range = `${Math.min(...rss).toFixed(1)} – ${Math.max(...rss).toFixed(1)}`;
  const memory = `${median(rss).toFixed(1)} MB (${range}); anon ${median(samples.map((s) => s.anon)).toFixed(1)}, file ${median(samples.map((s) => s.file)).toFixed(1)}`;
  const times = samples.map((s) => s.readyMs);
  const time = `${median(times).toFixed(0)} ms (${Math.min(...times).toFixed(0)} – ${Math.max(...times).toFixed(0)})`;
  return `  ${name.padEnd(34)} ${time.padEnd(20)} ${memory}`;
}

async function main(): Promise<void> {
  const kinds: { name: string; args: (directory: string) => string[]; ready: RegExp }[] = [
    { name: 'node alone', args: () => importing(undefined), ready: /ready/ },
    { name: 'node + @brook/protocol', args: () => importing('@brook/protocol'), ready: /ready/ },
    { name: 'node + @brook/storage', args: () => importing('@brook/storage'), ready: /ready/ },
    { name: 'node + @brook/broker', args: () => importing('@brook/broker'), ready: /ready/ },
    {
      name: 'brook serve (empty data directory)',
      args: (directory) => [
        CLI,
        'serve',
        '--port',
        '0',
        '--data-dir',
        directory,
        '--log-level',
        'warn',
      ],
      ready: /listening on/,
    },
  ];
  console.log(
    `\nFootprint, idle, ${RUNS} runs each after one that fills the compile cache (node ${process.version})`,
  );
  console.log(`  ${''.padEnd(34)} ${'spawn to ready'.padEnd(20)} RSS 1 s later: median (range)`);
  for (const kind of kinds) {
    const samples: Sample[] = [];
    for (let run = 0; run <= RUNS; run++) {
      const directory = mkdtempSync(join(tmpdir(), 'brook-footprint-'));
      try {
        const result = await sample(kind.args(directory), kind.ready);
        if (run > 0) samples.push(result);
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    }
    console.log(row(kind.name, samples));
  }
}

await main();
