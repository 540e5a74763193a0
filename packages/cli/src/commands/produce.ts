/** `brook produce`: not written yet. */
import type { Register } from '../cli.ts';
import { usageError } from '../common.ts';

export const register: Register = (program, _context) => {
  program
    .command('produce')
    .description('not written yet')
    .action(() => {
      throw usageError('not written yet');
    });
};
