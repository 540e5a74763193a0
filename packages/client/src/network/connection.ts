/**
 * One TCP connection to one broker. Requests are pipelined: each is written at once and its
 * response is matched by correlation id (Kafka answers in request order). The first request is
 * ApiVersions, and every later request goes out at the highest version both sides support.
 * A request that gets no answer within its timeout closes the connection (as Kafka's clients
 * do): every request still waiting fails with a retriable error.
 */
import { connect, type Socket } from 'node:net';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  ErrorCode,
  FrameReader,
  type MessageCodec,
  readResponseFrame,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';
import {
  AbortedError,
  ConnectionError,
  RequestTimeoutError,
  UnsupportedApiError,
} from '../errors.ts';
import type { ClientLogger } from '../logger.ts';

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly logger: ClientLogger;
  /** Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Default 30 s (Kafka's `request.timeout.ms`). */
  readonly requestTimeoutMs?: number;
  /** The largest response accepted; a larger one closes the connection. Default 256 MiB. */
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
}

export interface RequestOptions {
  /** Use exactly this version (it must be supported by both sides). */
  readonly version?: number;
  /** Never above this version (a feature the client does not have beyond it). */
  readonly maxVersion?: number;
  readonly timeoutMs?: number;
  /** Produce with acks=0: the broker sends nothing back. */
  readonly noResponse?: boolean;
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly version: number;
  readonly decode: (frame: Buffer) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly deadline: number;
}

const CLIENT_SOFTWARE_NAME = 'brook-client';
const CLIENT_SOFTWARE_VERSION = '0.1.0';

export class Connection {
  readonly host: string;
  readonly port: number;
  private readonly socket: Socket;
  private readonly clientId: string;
  private readonly logger: ClientLogger;
  private readonly requestTimeoutMs: number;
  private readonly reader: FrameReader;
  private readonly pending: Pending[] = [];
  private correlationId = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closedWith: Error | undefined;
  /** api key → [min, max] the broker supports. */
  private versions = new Map<number, readonly [number, number]>();
  /** The broker's answer to ApiVersions (set while connecting, before `connect` resolves). */
  private apiVersionsAnswer: ApiVersionsResponse | null = null;

  private constructor(socket: Socket, reader: FrameReader, options: ConnectionOptions) {
    this.socket = socket;
    this.reader = reader;
    this.host = options.host;
    this.port = options.port;
    this.clientId = options.clientId;
    this.logger = options.logger;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    socket.on('error', (error) => this.fail(new ConnectionError(error.message, { cause: error })));
    socket.on('close', () =>
      this.fail(new ConnectionError(`connection to ${this.address} closed`)),
    );
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.pending.length;
  }

  /** Connects and negotiates versions (ApiVersions). */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    const reader = new FrameReader({
      maxFrameBytes: options.maxResponseBytes ?? 256 * 1024 * 1024,
    });
    let connection: Connection | undefined;
    const socket = await new Promise<Socket>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new AbortedError('aborted', { cause: options.signal.reason }));
        return;
      }
      // Responses are read straight into their frames (FrameReader), not joined from chunks.
      const socket = connect({
        host: options.host,
        port: options.port,
        noDelay: true,
        onread: {
          buffer: () => reader.nextBuffer(),
          callback: (count: number) => {
            // Nothing is sent before the connection exists, so nothing arrives before it either.
            connection?.onRead(count);
            return true;
          },
        },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`connecting to ${options.host}:${options.port} timed out`));
      }, options.connectTimeoutMs ?? 10_000);
      const onAbort = () => {
        socket.destroy();
        reject(new AbortedError('aborted', { cause: options.signal?.reason }));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        reject(
          new ConnectionError(
            `cannot connect to ${options.host}:${options.port}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
      });
    });
    connection = new Connection(socket, reader, options);
    try {
      await connection.negotiate();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** ApiVersions at our highest version; a broker that has less answers v0 with its range. */
  private async negotiate(): Promise<void> {
    const ours = ApiVersionsRequest.maxVersion;
    let response = await this.send(
      ApiKey.ApiVersions,
      ours,
      ApiVersionsRequest,
      ApiVersionsResponse,
      {
        clientSoftwareName: CLIENT_SOFTWARE_NAME,
        clientSoftwareVersion: CLIENT_SOFTWARE_VERSION,
      },
    );
    if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
      const range = response.apiKeys.find((api) => api.apiKey === ApiKey.ApiVersions);
      const version = Math.min(range?.maxVersion ?? 0, ours);
      response = await this.send(
        ApiKey.ApiVersions,
        version,
        ApiVersionsRequest,
        ApiVersionsResponse,
        {
          clientSoftwareName: CLIENT_SOFTWARE_NAME,
          clientSoftwareVersion: CLIENT_SOFTWARE_VERSION,
        },
      );
    }
    if (response.errorCode !== ErrorCode.NONE) {
      throw new ConnectionError(`ApiVersions failed with error ${response.errorCode}`);
    }
    this.apiVersionsAnswer = response;
    this.versions = new Map(
      response.apiKeys.map((api) => [api.apiKey, [api.minVersion, api.maxVersion] as const]),
    );
  }

  /**
   * What the broker answered to ApiVersions when connecting: each API it serves with its version
   * range and, from v3, its supported and finalized features. Read-only; for tools that show it.
   */
  get apiVersionsResponse(): Readonly<ApiVersionsResponse> | null {
    return this.apiVersionsAnswer;
  }

  /** The version to use for an API: the highest both sides support (undefined: none). */
  versionFor(codec: MessageCodec<unknown, unknown>, maxVersion?: number): number | undefined {
    const apiKey = codec.apiKey;
    if (apiKey === undefined) return undefined;
    const broker = this.versions.get(apiKey);
    if (broker === undefined) return undefined;
    const max = Math.min(broker[1], codec.maxVersion, maxVersion ?? Number.MAX_SAFE_INTEGER);
    const min = Math.max(broker[0], codec.minVersion);
    return max >= min ? max : undefined;
  }

  /** Sends a request at the negotiated version; resolves with the decoded response. */
  request<Response, Input>(
    request: MessageCodec<unknown, Input>,
    response: MessageCodec<Response, unknown>,
    body: Input,
    options: RequestOptions = {},
  ): Promise<Response> {
    const apiKey = request.apiKey!;
    const version = options.version ?? this.versionFor(request, options.maxVersion);
    if (version === undefined) {
      return Promise.reject(
        new UnsupportedApiError(
          `${this.address} supports no version of ${request.name} this client has`,
        ),
      );
    }
    return this.send(apiKey, version, request, response, body, options);
  }

  /** Like `request`, and tells which version was used (for version-dependent responses). */
  async requestWithVersion<Response, Input>(
    request: MessageCodec<unknown, Input>,
    response: MessageCodec<Response, unknown>,
    body: (version: number) => Input,
    options: RequestOptions = {},
  ): Promise<{ response: Response; version: number }> {
    const version = options.version ?? this.versionFor(request, options.maxVersion);
    if (version === undefined) {
      throw new UnsupportedApiError(
        `${this.address} supports no version of ${request.name} this client has`,
      );
    }
    const result = await this.send(
      request.apiKey!,
      version,
      request,
      response,
      body(version),
      options,
    );
    return { response: result, version };
  }

  private send<Response, Input>(
    apiKey: number,
    version: number,
    request: MessageCodec<unknown, Input>,
    response: MessageCodec<Response, unknown>,
    body: Input,
    options: RequestOptions = {},
  ): Promise<Response> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (options.signal?.aborted)
      return Promise.reject(new AbortedError('aborted', { cause: options.signal.reason }));
    this.correlationId = (this.correlationId + 1) | 0;
    const correlationId = this.correlationId;
    const writer = new Writer();
    writeRequestFrame(
      writer,
      { apiKey, apiVersion: version, correlationId, clientId: this.clientId },
      (w) => request.write(w, body, version),
    );
    const bytes = writer.toBuffer();
    if (options.noResponse) {
      return new Promise((resolve, reject) => {
        this.socket.write(bytes, (error) =>
          error
            ? reject(new ConnectionError(error.message, { cause: error }))
            : resolve(undefined as Response),
        );
      });
    }
    return new Promise<Response>((resolve, reject) => {
      const entry: Pending = {
        correlationId,
        apiKey,
        version,
        decode: (frame) => {
          const { header, body: reader } = readResponseFrame(frame, apiKey, version);
          if (header.correlationId !== correlationId) {
            throw new ConnectionError(
              `response correlation id ${header.correlationId}, expected ${correlationId}`,
            );
          }
          // A broker without this ApiVersions version answers in v0 (Kafka's rule for an
          // ApiVersions it cannot parse): UNSUPPORTED_VERSION and its range, read as v0.
          if (
            apiKey === ApiKey.ApiVersions &&
            reader.remaining >= 2 &&
            frame.readInt16BE(reader.offset) === ErrorCode.UNSUPPORTED_VERSION
          ) {
            return response.decode(reader, 0);
          }
          return response.decode(reader, version);
        },
        resolve: resolve as (value: unknown) => void,
        reject,
        deadline: Date.now() + (options.timeoutMs ?? this.requestTimeoutMs),
      };
      this.pending.push(entry);
      this.armTimer();
      if (options.signal) {
        // An aborted request cannot be taken back from the wire: its caller stops waiting and
        // the response, when it comes, is dropped.
        options.signal.addEventListener(
          'abort',
          () => reject(new AbortedError('aborted', { cause: options.signal?.reason })),
          { once: true },
        );
      }
      this.socket.write(bytes);
    });
  }

  private onRead(count: number): void {
    let frames: Buffer[];
    try {
      frames = this.reader.filled(count);
    } catch (error) {
      this.fail(new ConnectionError((error as Error).message, { cause: error }));
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      const entry = this.pending.shift();
      if (entry === undefined) {
        this.fail(new ConnectionError(`unexpected response from ${this.address}`));
        this.socket.destroy();
        return;
      }
      let value: unknown;
      try {
        value = entry.decode(frame);
      } catch (error) {
        entry.reject(error as Error);
        this.fail(
          new ConnectionError(`bad response from ${this.address}: ${(error as Error).message}`, {
            cause: error,
          }),
        );
        this.socket.destroy();
        return;
      }
      entry.resolve(value);
    }
    this.armTimer();
  }

  /** One timer for the oldest request (responses come in order, so it is the first due). */
  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const oldest = this.pending[0];
    if (oldest === undefined) return;
    this.timer = setTimeout(
      () => {
        const error = new RequestTimeoutError(
          `no response from ${this.address} to api ${oldest.apiKey} v${oldest.version} in time`,
        );
        this.logger.log('warn', 'request timed out: closing connection', { broker: this.address });
        this.fail(error);
        this.socket.destroy();
      },
      Math.max(0, oldest.deadline - Date.now()),
    );
    this.timer.unref();
  }

  private fail(error: Error): void {
    if (this.closedWith === undefined) this.closedWith = error;
    clearTimeout(this.timer);
    for (const entry of this.pending.splice(0)) entry.reject(this.closedWith);
  }

  close(): void {
    this.fail(new ConnectionError(`connection to ${this.address} closed by the client`));
    this.socket.destroy();
  }
}
