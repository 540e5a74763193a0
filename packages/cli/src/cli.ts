/**
 * The `brook` commands (entered through main.js). Subcommands live in `src/commands/`.
 */
import { serve } from './commands/serve.ts';

const USAGE = `Usage: brook <command> [options]

Commands:
  serve    start a broker (brook serve --help)
`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
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
