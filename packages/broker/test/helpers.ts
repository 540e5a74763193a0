/**
 * Test support: a broker on 127.0.0.1 and a port of its own, in a temporary directory that is
 * removed afterwards; and a minimal raw client that speaks the protocol with Brook's codecs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FrameDecoder,
  type MessageCodec,
  readResponseFrame,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';
import { Broker } from '../src/broker.ts';
import { parseBrokerConfig } from '../src/config/broker-config.ts';
import { silentLogger } from '../src/logger.ts';

export interface TestBroker {
  readonly broker: Broker;
  readonly port: number;
  readonly bootstrap: string;
  readonly dataDirectory: string;
  stop(): Promise<void>;
}

export async function startTestBroker(
  t: { after(fn: () => Promise<void> | void): void },
  options: { properties?: Record<string, string>; dataDirectory?: string } = {},
): Promise<TestBroker> {
  const dataDirectory = options.dataDirectory ?? mkdtempSync(join(tmpdir(), 'brook-broker-'));
  const config = parseBrokerConfig(options.properties ?? {}, {
    host: '127.0.0.1',
    port: 0,
    dataDirectory,
  });
  const broker = await Broker.start({ config, logger: silentLogger, shutdownGraceMs: 1000 });
  const stop = () => broker.stop();
  t.after(async () => {
    await stop();
    if (options.dataDirectory === undefined)
      rmSync(dataDirectory, { recursive: true, force: true });
  });
  return { broker, port: broker.port, bootstrap: `127.0.0.1:${broker.port}`, dataDirectory, stop };
}

/** A raw protocol client: sends requests, returns responses in order. For tests only. */
export class RawClient {
  readonly socket: Socket;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 1 << 30 });
  private readonly waiting: { resolve: (frame: Buffer) => void; reject: (error: Error) => void }[] =
    [];
  private correlationId = 0;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.waiting.shift()?.resolve(frame);
    });
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('connection closed'));
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a request; resolves with the decoded response (in request order). */
  async request<Response, Input>(
    apiKey: number,
    version: number,
    request: MessageCodec<unknown, Input>,
    response: MessageCodec<Response, unknown>,
    body: Input,
  ): Promise<Response> {
    const writer = new Writer();
    const correlationId = ++this.correlationId;
    writeRequestFrame(
      writer,
      { apiKey, apiVersion: version, correlationId, clientId: 'brook-test' },
      (w) => request.write(w, body, version),
    );
    const frame = this.next();
    this.socket.write(writer.toBuffer());
    const bytes = await frame;
    const { header, body: reader } = readResponseFrame(bytes, apiKey, version);
    if (header.correlationId !== correlationId) {
      throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
    }
    return response.decode(reader, version);
  }

  /** The next response frame (for tests that write raw bytes). */
  next(): Promise<Buffer> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  close(): void {
    this.socket.destroy();
  }
}
