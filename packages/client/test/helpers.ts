/**
 * Test support: a Brook broker on 127.0.0.1 and a free port, in a temporary directory removed
 * afterwards. The client's tests run against a real broker, never a mock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, parseBrokerConfig, silentLogger } from '@brook/broker';

export interface TestBroker {
  readonly broker: Broker;
  readonly port: number;
  readonly bootstrap: string;
  stop(): Promise<void>;
}

export async function startBroker(
  t: { after(fn: () => Promise<void> | void): void },
  properties: Record<string, string> = {},
): Promise<TestBroker> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-client-'));
  const config = parseBrokerConfig(
    { 'group.initial.rebalance.delay.ms': '0', ...properties },
    { host: '127.0.0.1', port: 0, dataDirectory },
  );
  const broker = await Broker.start({ config, logger: silentLogger, shutdownGraceMs: 500 });
  t.after(async () => {
    await broker.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  });
  return {
    broker,
    port: broker.port,
    bootstrap: `127.0.0.1:${broker.port}`,
    stop: () => broker.stop(),
  };
}
