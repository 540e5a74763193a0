/**
 * A Brook broker: its data directory (metadata and logs), the handlers of every API it serves,
 * and a TCP server. `Broker.start` returns once it listens; `stop` shuts it down gracefully.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { raiseMallocThresholds } from '@brook/protocol';
import { type FileSystem, LogManager, NodeFileSystem } from '@brook/storage';
import { BrokerContext } from './broker-context.ts';
import type { BrokerConfig } from './config/broker-config.ts';
import { HANDLERS } from './handlers/index.ts';
import { HandlerRegistry } from './handlers/registry.ts';
import { createLogger, type Logger } from './logger.ts';
import { FileMetadataStore } from './metadata/metadata-store.ts';
import { Connection } from './network/connection.ts';

export interface BrokerOptions {
  readonly config: BrokerConfig;
  readonly logger?: Logger;
  /** The disk; the real one by default. */
  readonly fs?: FileSystem;
  /** How long `stop` lets requests in flight finish before closing connections. */
  readonly shutdownGraceMs?: number;
}

export class Broker {
  readonly context: BrokerContext;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly shutdownGraceMs: number;
  private stopping: Promise<void> | undefined;

  private constructor(context: BrokerContext, server: Server, shutdownGraceMs: number) {
    this.context = context;
    this.server = server;
    this.shutdownGraceMs = shutdownGraceMs;
  }

  static async start(options: BrokerOptions): Promise<Broker> {
    const startedMs = performance.now();
    // Produce requests are frames of up to megabytes, freed in bursts: keep glibc from handing
    // their memory back to the system (protocol's malloc-thresholds.ts).
    raiseMallocThresholds();
    const fs = options.fs ?? new NodeFileSystem();
    const logger = options.logger ?? createLogger();
    const server = createServer({ noDelay: true });
    // The port opens before the logs are loaded (advertised.listeners may need the port):
    // connections that arrive meanwhile wait here, and are served once the broker is ready.
    const early: Socket[] = [];
    const holdEarly = (socket: Socket) => early.push(socket);
    server.on('connection', holdEarly);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.config.host, port: options.config.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.config.port;
    const config: BrokerConfig = {
      ...options.config,
      port,
      advertisedPort: options.config.advertisedPort === 0 ? port : options.config.advertisedPort,
    };
    try {
      const metadata = await FileMetadataStore.open(fs, config.dataDirectory, {
        nodeId: config.nodeId,
      });
      const registry = new HandlerRegistry();
      for (const handler of HANDLERS) registry.register(handler);
      let context: BrokerContext | undefined;
      const logs = await LogManager.start({
        fs,
        dataDirectory: config.dataDirectory,
        configFor: (topic) => context?.topicLogConfig(topic) ?? config.log,
        retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
        flushCheckIntervalMs: config.logFlushSchedulerIntervalMs,
        cleanerBackoffMs: config.logCleanerBackoffMs,
        cleanerDedupeBufferBytes: config.logCleanerDedupeBufferBytes,
        producerIdExpirationMs: config.producerIdExpirationMs,
        producerIdExpirationCheckIntervalMs: config.producerIdExpirationCheckIntervalMs,
      });
      context = new BrokerContext({ config, metadata, logs, logger, registry });
      // Logs opened before the context existed used the broker defaults: apply topic overrides.
      for (const topic of metadata.topics()) logs.reconfigure(topic.name);
      context.groups.start();
      const broker = new Broker(context, server, options.shutdownGraceMs ?? 5000);
      let nextId = 0;
      server.off('connection', holdEarly);
      server.on('connection', (socket: Socket) => broker.accept(socket, `c${++nextId}`));
      for (const socket of early.splice(0)) {
        if (!socket.destroyed) broker.accept(socket, `c${++nextId}`);
      }
      logger.log('info', 'broker started', {
        listening: `${config.host}:${port}`,
        advertised: `${config.advertisedHost}:${config.advertisedPort}`,
        dataDirectory: config.dataDirectory,
        clusterId: metadata.clusterId,
        topics: metadata.topics().length,
        recovered: !logs.hadCleanShutdown,
        startMs: Math.round(performance.now() - startedMs),
      });
      return broker;
    } catch (error) {
      for (const socket of early.splice(0)) socket.destroy();
      server.close();
      throw error;
    }
  }

  get port(): number {
    return this.context.config.port;
  }

  get config(): BrokerConfig {
    return this.context.config;
  }

  private accept(socket: Socket, id: string): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const connection = new Connection(id, socket, this.context);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }

  /**
   * Stops accepting connections, lets requests in flight finish (up to the grace period),
   * closes connections, then closes the logs cleanly (flushed, checkpointed, marked clean).
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const logger = this.context.logger;
      logger.log('info', 'broker stopping', { connections: this.connections.size });
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // JoinGroups and SyncGroups waiting on a rebalance are answered, so connections drain.
      this.context.groups.shutdown();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...this.connections].map((connection) => connection.drain())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const connection of this.connections) connection.close('broker shutdown');
      await closed;
      await this.context.groups.whenLoaded();
      await this.context.logs.shutdown();
      this.context.readBuffers.clear();
      logger.log('info', 'broker stopped');
    })();
    return this.stopping;
  }
}
