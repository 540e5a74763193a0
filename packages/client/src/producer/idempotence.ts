/**
 * The idempotent producer's identity: a producer id from InitProducerId (no transactional id),
 * obtained at first use, and its epoch. Brokers keep, per partition and producer id, the
 * sequences of the last five batches, so a retried batch is recognized and not written twice.
 *
 * When a partition's sequence stream must start over (the broker lost the producer's state, or
 * a batch with sequences failed for good and left a gap) the producer bumps its epoch locally,
 * as Kafka's Java client does since 2.5 (KIP-360): a new epoch starts at sequence 0, and
 * brokers accept that. At the last epoch (32767) it asks for a new producer id instead.
 */
import { InitProducerIdRequest, InitProducerIdResponse, KafkaProtocolError } from '@brook/protocol';
import type { Cluster } from '../network/cluster.ts';
import { type RetryOptions, withRetries } from '../retry.ts';

const MAX_EPOCH = 32767;
/** What Kafka's Java client sends as the transaction timeout of an idempotent producer. */
const NO_TRANSACTION_TIMEOUT_MS = 2147483647;
const INT32_MAX = 0x7fffffff;

/** `sequence + count` in Kafka's sequence space (int32, wrapping to 0 after 2147483647). */
export function addSequence(sequence: number, count: number): number {
  return sequence > INT32_MAX - count ? count - (INT32_MAX - sequence) - 1 : sequence + count;
}

export class ProducerIdentity {
  producerId = -1n;
  producerEpoch = -1;
  private readonly cluster: Cluster;
  private readonly retry: RetryOptions;
  private initializing: Promise<void> | undefined;

  constructor(cluster: Cluster, retry: RetryOptions) {
    this.cluster = cluster;
    this.retry = retry;
  }

  get ready(): boolean {
    return this.producerId >= 0n;
  }

  /** Gets a producer id unless there is one (or a request for one is under way). */
  init(): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.initializing ??= this.request().finally(() => {
      this.initializing = undefined;
    });
    return this.initializing;
  }

  private async request(): Promise<void> {
    const response = await withRetries(
      async () => {
        const connection = await this.cluster.anyConnection();
        const answer = await connection.request(InitProducerIdRequest, InitProducerIdResponse, {
          transactionalId: null,
          transactionTimeoutMs: NO_TRANSACTION_TIMEOUT_MS,
        });
        if (answer.errorCode !== 0) throw new KafkaProtocolError(answer.errorCode);
        return answer;
      },
      { ...this.retry, signal: this.cluster.signal },
    );
    this.producerId = response.producerId;
    this.producerEpoch = response.producerEpoch;
  }

  /**
   * A partition whose stream ran on `producerId` / `producerEpoch` must start over: moves the
   * identity past that epoch unless it has moved already. True when the identity is ready to
   * use at once; false while a new producer id is being fetched (`init()` resolves then).
   */
  bumpFrom(producerId: bigint, producerEpoch: number): boolean {
    if (this.producerId !== producerId || this.producerEpoch !== producerEpoch) return this.ready;
    if (producerEpoch < MAX_EPOCH) {
      this.producerEpoch = producerEpoch + 1;
      return true;
    }
    this.reset();
    return false;
  }

  /** Forgets the producer id; the next `init()` gets a new one. */
  reset(): void {
    this.producerId = -1n;
    this.producerEpoch = -1;
  }
}
