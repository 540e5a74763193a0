// FindCoordinator: v0-6
// * Group keys: this broker, the coordinator of every group on a single node. The first request
//   creates `__consumer_offsets` (Kafka creates it on the first FindCoordinator too).
// * v4+ batch keys (KIP-699); v0-3 carry one key and a top-level answer.
// * Transaction keys get COORDINATOR_NOT_AVAILABLE until transactions land (what Kafka answers
//   while no transaction coordinator can serve the id). Share-group and unknown key types are
//   INVALID_REQUEST, as in Kafka.
import {
  ApiKey,
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from '@brook/protocol';
import { defineHandler } from './registry.ts';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export const findCoordinatorHandler = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  request: FindCoordinatorRequest,
  response: FindCoordinatorResponse,
  async handle(request, context) {
    const broker = context.broker;
    const { nodeId, advertisedHost: host, advertisedPort: port } = broker.config;
    const answer = async (key: string) => {
      const failed = (errorCode: number, errorMessage: string) => ({
        key,
        nodeId: -1,
        host: '',
        port: -1,
        errorCode,
        errorMessage,
      });
      if (request.keyType === KEY_TYPE_TRANSACTION) {
        return failed(
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
          'Transactions are not supported by this broker yet.',
        );
      }
      if (request.keyType !== KEY_TYPE_GROUP) {
        return failed(ErrorCode.INVALID_REQUEST, `Unknown coordinator key type ${request.keyType}`);
      }
      try {
        await broker.groups.partitionFor(key);
      } catch (error) {
        context.logger.log('error', 'cannot create __consumer_offsets', { error: String(error) });
        return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'The coordinator is not available.');
      }
      return { key, nodeId, host, port, errorCode: ErrorCode.NONE, errorMessage: null };
    };
    if (context.apiVersion >= 4) {
      const coordinators = [];
      for (const key of request.coordinatorKeys) coordinators.push(await answer(key));
      return { throttleTimeMs: 0, coordinators };
    }
    const one = await answer(request.key);
    return {
      throttleTimeMs: 0,
      errorCode: one.errorCode,
      errorMessage: one.errorMessage,
      nodeId: one.nodeId,
      host: one.host,
      port: one.port,
    };
  },
});
