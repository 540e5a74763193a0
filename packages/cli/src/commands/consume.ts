/** `brook consume`: not written yet. */
import type { Register } from '../cli.ts';
import { usageError } from '../common.ts';

export const register: Register = (program, _context) => {
  program
    .command('consume')
    .description('not written yet')
    .action(() => {
      throw usageError('not written yet');
    });
};
