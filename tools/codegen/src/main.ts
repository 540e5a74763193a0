/**
 * `npm run codegen`: regenerates packages/protocol/src/generated from Kafka's specs.
 * `npm run codegen -- --check`: exits 1 when the committed files differ from the output.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SPEC_DIRECTORY = join(root, '..', 'shared', 'kafka-spec');
export const OUTPUT_DIRECTORY = join(root, 'packages', 'protocol', 'src', 'generated');

function listFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)));
}

/** The differences between the generated files and what is on disk (empty when fresh). */
export function differences(files: Map<string, string>, directory = OUTPUT_DIRECTORY): string[] {
  const problems: string[] = [];
  for (const [path, content] of files) {
    const target = join(directory, path);
    if (!existsSync(target)) problems.push(`missing: ${path}`);
    else if (readFileSync(target, 'utf8') !== content) problems.push(`differs: ${path}`);
  }
  for (const path of listFiles(directory)) {
    if (!files.has(path)) problems.push(`not generated: ${path}`);
  }
  return problems;
}

function main(): void {
  const files = generate(join(SPEC_DIRECTORY, 'message'), join(SPEC_DIRECTORY, 'internal'));
  if (process.argv.includes('--check')) {
    const problems = differences(files);
    for (const problem of problems) console.error(problem);
    process.exitCode = problems.length === 0 ? 0 : 1;
    return;
  }
  rmSync(OUTPUT_DIRECTORY, { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(OUTPUT_DIRECTORY, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  console.log(`wrote ${files.size} files to ${relative(process.cwd(), OUTPUT_DIRECTORY)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
