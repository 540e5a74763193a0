/**
 * Test support: a Brook broker on 127.0.0.1 and a free port, in a temporary directory removed
 * afterwards. The client's tests run against a real broker, never a mock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, parseBrokerConfig, silentLogger } from '@brook/broker';
import { FrameDecoder, readRequestFrame } from '@brook/protocol';

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

/** A request as the recording proxy decoded it. */
export interface SeenRequest {
  readonly apiKey: number;
  readonly version: number;
  /** The decoded request body (undefined for an API the codec does not know). */
  readonly body: unknown;
}

/** A request header as the recording proxy read it, for `answer`. */
export interface SeenHeader {
  readonly apiKey: number;
  readonly version: number;
  readonly correlationId: number;
}

/**
 * A broker behind a pass-through proxy that decodes and records every request: the broker
 * advertises the proxy, so each of a client's connections goes through it. `answer` may
 * answer a request in the broker's place (a whole response frame, size included), to play an
 * older broker; the request is still recorded. It is answered at once, so it must have no
 * request in flight before it (as ApiVersions when connecting).
 */
export async function startBrokerBehindRecorder(
  t: { after(fn: () => Promise<void> | void): void },
  properties: Record<string, string> = {},
  options: { answer?: (header: SeenHeader) => Buffer | undefined } = {},
): Promise<{ bootstrap: string; port: number; requests: SeenRequest[] }> {
  const sockets = new Set<Socket>();
  const requests: SeenRequest[] = [];
  let upstreamPort = 0;
  const server = createServer((client) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client).add(upstream);
    const frames = new FrameDecoder({ maxFrameBytes: 1 << 26 });
    client.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) {
        const { header, api, body } = readRequestFrame(frame);
        const version = header.requestApiVersion;
        requests.push({
          apiKey: header.requestApiKey,
          version,
          body: api?.request.decode(body, version),
        });
        const answer = options.answer?.({
          apiKey: header.requestApiKey,
          version,
          correlationId: header.correlationId,
        });
        if (answer !== undefined) {
          client.write(answer);
          continue;
        }
        const size = Buffer.alloc(4);
        size.writeInt32BE(frame.length);
        upstream.write(Buffer.concat([size, frame]));
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyPort = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = await startBroker(t, {
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxyPort}`,
    ...properties,
  });
  upstreamPort = port;
  return { bootstrap: `127.0.0.1:${proxyPort}`, port: proxyPort, requests };
}
