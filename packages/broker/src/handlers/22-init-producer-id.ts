// InitProducerId: v0-5
// * Without a transactional id (idempotent producers: Java clients since 3.0 by default,
//   librdkafka with enable.idempotence=true): a new producer id, epoch 0, as Kafka's
//   TransactionCoordinator does for a null transactional id. A producer id and epoch given in
//   v3+ are ignored then (Kafka ignores them too), except that exactly one of them set is
//   INVALID_REQUEST. Ids come from blocks of 1000 reserved durably in the metadata store, so
//   they stay unique across restarts.
// * Errors carry producer id -1 and epoch -1.
// * Not yet: transactions (a later issue). A transactional id gets COORDINATOR_NOT_AVAILABLE,
//   what Kafka answers while no transaction coordinator can serve it (FindCoordinator for
//   transactions is not served either); an empty one gets INVALID_REQUEST, as in Kafka.
//   PRODUCER_FENCED (v4+, INVALID_PRODUCER_EPOCH before) arrives with transactions.
import { ApiKey, ErrorCode, InitProducerIdRequest, InitProducerIdResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

const NO_PRODUCER_ID = -1n;
const NO_PRODUCER_EPOCH = -1;

function failed(errorCode: number) {
  return {
    throttleTimeMs: 0,
    errorCode,
    producerId: NO_PRODUCER_ID,
    producerEpoch: NO_PRODUCER_EPOCH,
  };
}

export const initProducerIdHandler = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  request: InitProducerIdRequest,
  response: InitProducerIdResponse,
  async handle(request, context) {
    const givenId = request.producerId !== NO_PRODUCER_ID;
    const givenEpoch = request.producerEpoch !== NO_PRODUCER_EPOCH;
    if (givenId !== givenEpoch) return failed(ErrorCode.INVALID_REQUEST);
    if (request.transactionalId !== null) {
      return failed(
        request.transactionalId === ''
          ? ErrorCode.INVALID_REQUEST
          : ErrorCode.COORDINATOR_NOT_AVAILABLE,
      );
    }
    let producerId: bigint;
    try {
      producerId = await context.broker.producerIds.generateProducerId();
    } catch (error) {
      context.logger.log('error', 'producer id allocation failed', { error: String(error) });
      return failed(ErrorCode.UNKNOWN_SERVER_ERROR);
    }
    context.logger.log('debug', 'producer id allocated', {
      producerId: producerId.toString(),
      connection: context.connectionId,
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
});
