/**
 * Cluster metadata: topics (ids, partition counts, config overrides), dynamic broker configs,
 * the cluster id and the producer id blocks handed out. One interface; a single node keeps it in
 * files in its data directory (`FileMetadataStore`), the cluster mode will keep it in etcd.
 */
import { join } from 'node:path';
import { randomUuid, uuidToBase64 } from '@brook/protocol';
import { type FileSystem, mkdirDurable } from '@brook/storage';

export interface TopicMetadata {
  readonly name: string;
  readonly topicId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Topic-level config overrides, by Kafka property name. */
  readonly configs: Readonly<Record<string, string>>;
  readonly isInternal: boolean;
}

export interface MetadataStore {
  readonly clusterId: string;
  topics(): readonly TopicMetadata[];
  topic(name: string): TopicMetadata | undefined;
  topicById(topicId: string): TopicMetadata | undefined;
  createTopic(topic: Omit<TopicMetadata, 'topicId'> & { topicId?: string }): Promise<TopicMetadata>;
  deleteTopic(name: string): Promise<void>;
  updateTopic(
    name: string,
    change: { partitionCount?: number; configs?: Record<string, string> },
  ): Promise<TopicMetadata>;
  /** Dynamic broker configs (IncrementalAlterConfigs on the broker resource). */
  brokerConfigs(): Readonly<Record<string, string>>;
  setBrokerConfigs(configs: Record<string, string>): Promise<void>;
  /**
   * Reserves the next `size` producer ids (Kafka's AllocateProducerIds block) and returns the
   * first. The reservation is durable before this resolves, so no id is handed out twice, even
   * across restarts (ids of a block unused at a restart are skipped).
   */
  allocateProducerIdBlock(size: number): Promise<bigint>;
}

interface StoredState {
  version: 1;
  clusterId: string;
  topics: TopicMetadata[];
  brokerConfigs: Record<string, string>;
}

export const METADATA_FILE = 'brook-metadata.json';
/** The next producer id block's first id; apart from METADATA_FILE, so its writes never race. */
export const PRODUCER_ID_BLOCK_FILE = 'brook-producer-ids.json';
/** Kafka's own marker of a data directory, written for tools that look for it. */
export const META_PROPERTIES_FILE = 'meta.properties';

/**
 * The single-node store: the whole state in one JSON file, rewritten atomically on each change
 * (changes are rare and small: topic creation, config changes).
 */
export class FileMetadataStore implements MetadataStore {
  private readonly fs: FileSystem;
  private readonly path: string;
  private state: StoredState;
  private readonly byName = new Map<string, TopicMetadata>();
  private readonly byId = new Map<string, TopicMetadata>();
  private writing: Promise<void> = Promise.resolve();
  private readonly producerIdPath: string;
  /** The first producer id of the next block (what PRODUCER_ID_BLOCK_FILE says). */
  private nextProducerIdBlock: bigint;
  private allocating: Promise<unknown> = Promise.resolve();

  private constructor(
    fs: FileSystem,
    path: string,
    state: StoredState,
    producerIds: { path: string; next: bigint },
  ) {
    this.fs = fs;
    this.path = path;
    this.state = state;
    this.producerIdPath = producerIds.path;
    this.nextProducerIdBlock = producerIds.next;
    this.index();
  }

  static async open(
    fs: FileSystem,
    dataDirectory: string,
    options: { nodeId: number },
  ): Promise<FileMetadataStore> {
    await mkdirDurable(fs, dataDirectory);
    const path = join(dataDirectory, METADATA_FILE);
    let state: StoredState;
    if (await fs.exists(path)) {
      state = JSON.parse((await fs.readFile(path)).toString('utf8')) as StoredState;
    } else {
      // Kafka prints cluster ids as base64 of a random UUID.
      state = { version: 1, clusterId: uuidToBase64(randomUuid()), topics: [], brokerConfigs: {} };
      await fs.writeFileAtomic(path, Buffer.from(JSON.stringify(state, null, 2)));
      const meta = `version=1\ncluster.id=${state.clusterId}\nnode.id=${options.nodeId}\n`;
      await fs.writeFileAtomic(join(dataDirectory, META_PROPERTIES_FILE), Buffer.from(meta));
    }
    const producerIdPath = join(dataDirectory, PRODUCER_ID_BLOCK_FILE);
    let nextProducerIdBlock = 0n;
    if (await fs.exists(producerIdPath)) {
      const stored = JSON.parse((await fs.readFile(producerIdPath)).toString('utf8')) as {
        nextProducerId?: unknown;
      };
      if (typeof stored.nextProducerId !== 'string' || !/^\d{1,19}$/.test(stored.nextProducerId)) {
        // Guessing could hand out an id twice: refuse to start instead.
        throw new Error(`${producerIdPath} does not hold a next producer id`);
      }
      nextProducerIdBlock = BigInt(stored.nextProducerId);
    }
    return new FileMetadataStore(fs, path, state, {
      path: producerIdPath,
      next: nextProducerIdBlock,
    });
  }

  get clusterId(): string {
    return this.state.clusterId;
  }

  private index(): void {
    this.byName.clear();
    this.byId.clear();
    for (const topic of this.state.topics) {
      this.byName.set(topic.name, topic);
      this.byId.set(topic.topicId, topic);
    }
  }

  /**
   * Applies `change` to the state once the writes before it are done (so concurrent changes
   * build on each other instead of the last one overwriting the others), writes the result, then
   * makes it the state.
   */
  private async persist(change: (state: StoredState) => StoredState): Promise<void> {
    const write = this.writing.then(async () => {
      const next = change(this.state);
      await this.fs.writeFileAtomic(this.path, Buffer.from(JSON.stringify(next, null, 2)));
      this.state = next;
      this.index();
    });
    this.writing = write.catch(() => {});
    await write;
  }

  topics(): readonly TopicMetadata[] {
    return this.state.topics;
  }

  topic(name: string): TopicMetadata | undefined {
    return this.byName.get(name);
  }

  topicById(topicId: string): TopicMetadata | undefined {
    return this.byId.get(topicId);
  }

  async createTopic(
    topic: Omit<TopicMetadata, 'topicId'> & { topicId?: string },
  ): Promise<TopicMetadata> {
    const created: TopicMetadata = { ...topic, topicId: topic.topicId ?? randomUuid() };
    await this.persist((state) => ({ ...state, topics: [...state.topics, created] }));
    return created;
  }

  async deleteTopic(name: string): Promise<void> {
    await this.persist((state) => ({
      ...state,
      topics: state.topics.filter((t) => t.name !== name),
    }));
  }

  async updateTopic(
    name: string,
    change: { partitionCount?: number; configs?: Record<string, string> },
  ): Promise<TopicMetadata> {
    let updated: TopicMetadata | undefined;
    await this.persist((state) => {
      const current = state.topics.find((t) => t.name === name);
      if (current === undefined) throw new Error(`no topic ${name}`);
      const next: TopicMetadata = {
        ...current,
        ...(change.partitionCount !== undefined ? { partitionCount: change.partitionCount } : {}),
        ...(change.configs !== undefined ? { configs: change.configs } : {}),
      };
      updated = next;
      return { ...state, topics: state.topics.map((t) => (t.name === name ? next : t)) };
    });
    return updated!;
  }

  brokerConfigs(): Readonly<Record<string, string>> {
    return this.state.brokerConfigs;
  }

  async setBrokerConfigs(configs: Record<string, string>): Promise<void> {
    await this.persist((state) => ({ ...state, brokerConfigs: configs }));
  }

  allocateProducerIdBlock(size: number): Promise<bigint> {
    const allocation = this.allocating.then(async () => {
      const first = this.nextProducerIdBlock;
      const next = first + BigInt(size);
      if (next > 0x7fffffffffffffffn) throw new Error('producer ids are exhausted');
      const content = `${JSON.stringify({ version: 1, nextProducerId: next.toString() })}\n`;
      await this.fs.writeFileAtomic(this.producerIdPath, Buffer.from(content));
      this.nextProducerIdBlock = next;
      return first;
    });
    this.allocating = allocation.catch(() => {});
    return allocation;
  }
}
