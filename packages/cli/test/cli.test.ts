/**
 * The `brook` program as a whole, run as a child process: the command list, help, unknown
 * commands and bad flags, and colours only where they belong (a terminal, or FORCE_COLOR).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brook, startBroker } from './support.ts';

const ESCAPE = '\u001b[';

describe('brook', () => {
  it('lists its commands, and has help for each', async () => {
    const [help, none, unknown, helpTopic, flag] = await Promise.all([
      brook(['--help']),
      brook([]),
      brook(['frobnicate']),
      brook(['help', 'topic']),
      brook(['topic', 'list', '--frobnicate']),
    ]);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'topic', 'produce', 'consume', 'group', 'cluster', 'perf']) {
      assert.match(help.stdout, new RegExp(`\\n  ${command} `), command);
    }
    assert.match(help.stdout, /BROOK_BOOTSTRAP/);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: brook <command>/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.equal(helpTopic.code, 0);
    assert.match(helpTopic.stdout, /Usage: brook topic/);
    assert.match(helpTopic.stdout, /add-partitions/);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--frobnicate'/);
  });

  it('colours a table header and an error only on a terminal or with FORCE_COLOR', async (t) => {
    const { bootstrap } = await startBroker(t);
    const [plain, forced, plainError, forcedError] = await Promise.all([
      brook(['topic', 'list', '--internal', '-b', bootstrap]),
      brook(['topic', 'list', '--internal', '-b', bootstrap], { env: { FORCE_COLOR: '1' } }),
      brook(['topic', 'describe', 'ghost', '-b', bootstrap]),
      brook(['topic', 'describe', 'ghost', '-b', bootstrap], { env: { FORCE_COLOR: '1' } }),
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(plain.stdout.startsWith('NAME'), plain.stdout);
    assert.ok(!plain.stdout.includes(ESCAPE));
    assert.ok(forced.stdout.startsWith(`${ESCAPE}1mNAME`), JSON.stringify(forced.stdout));
    assert.equal(plainError.code, 1);
    assert.ok(plainError.stderr.startsWith("brook topic describe: topic 'ghost' does not exist"));
    assert.ok(!plainError.stderr.includes(ESCAPE));
    assert.equal(forcedError.code, 1);
    assert.ok(forcedError.stderr.startsWith(`${ESCAPE}31mbrook topic describe:`));
  });
});
