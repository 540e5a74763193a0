/**
 * Hands out producer ids (Kafka's ProducerIdManager): ids come from blocks reserved in the
 * metadata store, 1000 at a time as Kafka's controller grants them (ProducerIdsBlock), so an id
 * costs a durable write only once per block and is never given twice, restarts included.
 */
import type { MetadataStore } from './metadata-store.ts';

/** Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

export class ProducerIdManager {
  private readonly store: Pick<MetadataStore, 'allocateProducerIdBlock'>;
  private readonly blockSize: number;
  /** The current block: ids from `next` (included) to `end` (excluded) are free. */
  private next = 0n;
  private end = 0n;
  private refill: Promise<void> | undefined;

  constructor(
    store: Pick<MetadataStore, 'allocateProducerIdBlock'>,
    options: { blockSize?: number } = {},
  ) {
    this.store = store;
    this.blockSize = options.blockSize ?? PRODUCER_ID_BLOCK_SIZE;
  }

  /** A producer id no one had before. Rejects when the store cannot reserve a block. */
  async generateProducerId(): Promise<bigint> {
    while (this.next >= this.end) {
      // Callers that find the block used up share one reservation.
      this.refill ??= this.store
        .allocateProducerIdBlock(this.blockSize)
        .then((first) => {
          this.next = first;
          this.end = first + BigInt(this.blockSize);
        })
        .finally(() => {
          this.refill = undefined;
        });
      await this.refill;
    }
    return this.next++;
  }
}
