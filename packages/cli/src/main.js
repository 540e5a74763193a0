#!/usr/bin/env node
/**
 * `brook`: the command-line entry point, and Brook's one JavaScript file, on purpose. Node strips
 * the types of a `.ts` entry before any of its code runs, so a `.ts` entry would load the type
 * stripper (a WebAssembly build of swc) on every start, about 15 MB and 50 ms, before it could
 * turn on the compile cache. This file turns it on first: later starts find every module already
 * stripped and compiled, and never load the stripper.
 *
 * The cache is written as soon as the modules are loaded, not only at a clean exit, so a broker
 * that is killed still starts fast the next time.
 */
import module from 'node:module';

module.enableCompileCache?.();
const { run } = await import('./cli.ts');
module.flushCompileCache?.();
process.exitCode = await run(process.argv.slice(2));
