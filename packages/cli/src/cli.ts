/**
 * The `brook` commands (entered through main.js). Subcommands live in `src/commands/`.
 */
import { serve } from './commands/serve.ts';

const USAGE = `Usage: brook <command> [options]

Commands:
  serve    start a broker (brook serve --help)
  groups   list, describe, delete consumer groups and reset their offsets (brook groups --help)
`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'groups': {
      // Loaded only for this command: `brook serve` does not pay for the client's modules.
      const { groups } = await import('./commands/groups.ts');
      return groups(rest);
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`brook: unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}
