/**
 * One client connection: cuts frames from the socket, runs each request's handler, and writes
 * responses in request order (Kafka's guarantee) even when handlers finish out of order.
 *
 * Bounds: a frame larger than `socket.request.max.bytes` closes the connection before it is
 * buffered; at most `maxInFlight` requests are outstanding, and reading pauses while that many
 * are (or while the socket's write buffer is full); a connection idle for
 * `connections.max.idle.ms` is closed.
 *
 * A request for an API or version Brook does not serve gets that API's error response
 * (unserved.ts); only an unknown api key, a version the protocol lacks or an undecodable body
 * closes the connection, as in Kafka.
 */
import type { Socket } from 'node:net';
import {
  type ApiDescriptor,
  ApiKey,
  ApiVersionsResponse,
  ErrorCode,
  FrameDecoder,
  ProtocolDecodeError,
  readRequestFrame,
  UnsupportedVersionError,
  Writer,
  writeResponseFrame,
} from '@brook/protocol';
import type { BrokerContext } from '../broker-context.ts';
import type { Logger } from '../logger.ts';
import { errorResponseBody, refusal } from './unserved.ts';

interface Slot {
  /** The encoded response, null for a request that gets none, undefined while pending. */
  chunks: Buffer[] | null | undefined;
  /** Run once the response is written, or will never be (RequestContext.afterResponse). */
  afterWrite?: (() => void)[] | undefined;
}

function runAfterWrite(slot: Slot): void {
  const callbacks = slot.afterWrite;
  if (callbacks === undefined) return;
  slot.afterWrite = undefined;
  for (const callback of callbacks) callback();
}

export class Connection {
  readonly id: string;
  private readonly socket: Socket;
  private readonly broker: BrokerContext;
  private readonly logger: Logger;
  private readonly decoder: FrameDecoder;
  private readonly slots: Slot[] = [];
  private readonly abort = new AbortController();
  private readonly maxInFlight: number;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private paused = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(id: string, socket: Socket, broker: BrokerContext) {
    this.id = id;
    this.socket = socket;
    this.broker = broker;
    this.logger = broker.logger.child({
      connection: id,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    this.decoder = new FrameDecoder({ maxFrameBytes: broker.config.socketRequestMaxBytes });
    this.maxInFlight = broker.config.maxInFlightRequestsPerConnection;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateFlow());
    socket.on('error', (error) =>
      this.logger.log('debug', 'socket error', { error: error.message }),
    );
    socket.on('close', () => this.onClose());
    this.touch();
  }

  /** Resolves when every request already received has been answered (for a graceful stop). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.logger.log('info', 'closing connection', { reason });
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.abort.abort();
  }

  private touch(): void {
    const idleMs = this.broker.config.connectionsMaxIdleMs;
    if (idleMs < 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.close(`idle for ${idleMs} ms (connections.max.idle.ms)`),
      idleMs,
    );
    this.idleTimer.unref();
  }

  private onData(chunk: Buffer): void {
    this.touch();
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.close(`bad frame: ${(error as Error).message}`);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.accept(frame);
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    const busy = this.slots.length >= this.maxInFlight || this.socket.writableNeedDrain;
    if (busy && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!busy && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private accept(frame: Buffer): void {
    let request: ReturnType<typeof readRequestFrame>;
    try {
      request = readRequestFrame(frame);
    } catch (error) {
      this.close(`unreadable request header: ${(error as Error).message}`);
      return;
    }
    const { header } = request;
    const apiKey = header.requestApiKey;
    const version = header.requestApiVersion;
    const handler = this.broker.registry.get(apiKey);
    const slot: Slot = { chunks: undefined };
    if (handler === undefined || version < handler.minVersion || version > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions) {
        // Kafka answers an ApiVersions it cannot parse with v0: the error and its versions.
        this.slots.push(slot);
        slot.chunks = this.encode(apiKey, 0, header.correlationId, (writer) =>
          ApiVersionsResponse.write(
            writer,
            {
              errorCode: ErrorCode.UNSUPPORTED_VERSION,
              apiKeys: this.broker.registry.apiVersions(),
            },
            0,
          ),
        );
        this.flush();
        return;
      }
      const api = request.api;
      if (api === undefined) {
        // Kafka cannot parse the header of an api key it does not know either.
        this.close(`unknown api key ${apiKey}`);
        return;
      }
      if (version < api.minVersion || version > api.maxVersion) {
        // No codec can read the body, nor write a response, of a version the specs lack.
        this.close(
          `unsupported version ${version} of ${api.name} (the protocol has ${api.minVersion}-${api.maxVersion}${handler === undefined ? '' : `, Brook serves ${handler.minVersion}-${handler.maxVersion}`})`,
        );
        return;
      }
      this.refuse(request, api, handler);
      return;
    }
    this.slots.push(slot);
    const work = this.run(handler, request, slot).finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  /**
   * Answers a request Brook does not serve (an API without a handler, or a version outside its
   * handler's range) with the API's error response (unserved.ts). A body that does not decode
   * still closes the connection, as Kafka does.
   */
  private refuse(
    request: ReturnType<typeof readRequestFrame>,
    api: ApiDescriptor,
    handler: ReturnType<BrokerContext['registry']['get']>,
  ): void {
    const { header } = request;
    const version = header.requestApiVersion;
    let body: unknown;
    try {
      body = api.request.decode(request.body, version);
    } catch (error) {
      this.close(`malformed ${api.name} v${version}: ${(error as Error).message}`);
      return;
    }
    const reason = refusal(api, handler, version);
    this.logger.log('info', 'request not served', {
      api: api.name,
      version,
      clientId: header.clientId,
      errorCode: reason.errorCode,
      reason: reason.errorMessage,
    });
    const response = errorResponseBody(api, body, version, reason);
    if (response === undefined) {
      this.close(`${reason.errorMessage}; a request without a response cannot carry the error`);
      return;
    }
    let chunks: Buffer[];
    try {
      chunks = this.encode(api.apiKey, version, header.correlationId, (writer) =>
        api.response.write(writer, response, version),
      );
    } catch (error) {
      const failure = `cannot answer ${api.name} v${version}: ${(error as Error).message}`;
      this.logger.log('error', 'request failed', { reason: failure });
      this.close(failure);
      return;
    }
    this.slots.push({ chunks });
    this.flush();
  }

  private async run(
    handler: NonNullable<ReturnType<BrokerContext['registry']['get']>>,
    request: ReturnType<typeof readRequestFrame>,
    slot: Slot,
  ): Promise<void> {
    const { header } = request;
    const version = header.requestApiVersion;
    try {
      const body = handler.request.decode(request.body, version);
      const response = await handler.handle(body, {
        broker: this.broker,
        header,
        apiVersion: version,
        connectionId: this.id,
        clientHost: `/${this.socket.remoteAddress ?? ''}`,
        logger: this.logger,
        signal: this.abort.signal,
        afterResponse: (callback) => {
          slot.afterWrite ??= [];
          slot.afterWrite.push(callback);
        },
      });
      slot.chunks =
        response === undefined
          ? null
          : this.encode(header.requestApiKey, version, header.correlationId, (writer) =>
              handler.response.write(writer, response, version),
            );
    } catch (error) {
      const reason =
        error instanceof ProtocolDecodeError
          ? `malformed ${handler.request.name} v${version}: ${error.message}`
          : error instanceof UnsupportedVersionError
            ? `cannot answer ${handler.request.name} v${version}: ${error.message}`
            : `${handler.request.name} v${version} failed: ${(error as Error).stack ?? String(error)}`;
      if (!(error instanceof ProtocolDecodeError))
        this.logger.log('error', 'request failed', { reason });
      this.close(reason);
      return;
    }
    this.flush();
  }

  private encode(
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    writeBody: (writer: Writer) => void,
  ): Buffer[] {
    const writer = new Writer(1024);
    writeResponseFrame(writer, { apiKey, apiVersion, correlationId }, writeBody);
    return writer.toChunks();
  }

  /**
   * Writes the responses that are ready at the head of the queue, in order. A response's
   * `afterWrite` callbacks run from the write callback of its last chunk: the socket calls it
   * once it no longer needs the bytes (written, or the socket destroyed).
   */
  private flush(): void {
    if (this.closed) {
      // Nothing more is written: ready responses at the head are dropped.
      while (this.slots.length > 0 && this.slots[0]!.chunks !== undefined) {
        runAfterWrite(this.slots.shift()!);
      }
      return;
    }
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0]!.chunks !== undefined) {
      const slot = this.slots.shift()!;
      const chunks = slot.chunks;
      if (!chunks || chunks.length === 0) {
        runAfterWrite(slot);
        continue;
      }
      if (!wrote) this.socket.cork();
      wrote = true;
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) this.socket.write(chunks[i]!);
      if (slot.afterWrite === undefined) this.socket.write(chunks[last]!);
      else this.socket.write(chunks[last]!, () => runAfterWrite(slot));
    }
    if (wrote) this.socket.uncork();
    this.updateFlow();
  }
}
