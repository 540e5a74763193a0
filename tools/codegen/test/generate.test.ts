import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generate } from '../src/generate.ts';
import { differences, SPEC_DIRECTORY } from '../src/main.ts';

describe('generated code', () => {
  it('is exactly what the generator writes from the specs (run `npm run codegen`)', () => {
    const files = generate(join(SPEC_DIRECTORY, 'message'), join(SPEC_DIRECTORY, 'internal'));
    assert.deepEqual(differences(files), []);
  });

  it('covers every request and response spec', () => {
    const files = generate(join(SPEC_DIRECTORY, 'message'), join(SPEC_DIRECTORY, 'internal'));
    const messages = files.get('messages.ts') ?? '';
    assert.equal(messages.match(/^export const \w+Request: MessageCodec</gm)?.length, 88);
    assert.equal(messages.match(/^export const \w+Response: MessageCodec</gm)?.length, 88);
    assert.equal(messages.match(/^export function \w+ErrorResponse\(/gm)?.length, 88);
    const table = files.get('api-table.ts') ?? '';
    assert.equal(table.match(/^ {4}apiKey: /gm)?.length, 88);
  });
});
