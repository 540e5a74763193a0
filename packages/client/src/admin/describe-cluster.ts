/**
 * The cluster: its id, controller and brokers, from DescribeCluster (Kafka 2.8+), or from
 * Metadata when the broker does not have it.
 */
import {
  DescribeClusterRequest,
  DescribeClusterResponse,
  ErrorCode,
  MetadataRequest,
  MetadataResponse,
} from '@brook/protocol';
import type { BrokerInfo } from '../network/cluster.ts';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  entityError,
  type OperationOptions,
  type Outcome,
  type Round,
} from './admin-context.ts';

export interface ClusterDescription {
  /** Null when the broker does not say (Metadata before v2). */
  readonly clusterId: string | null;
  /** -1 when there is none the broker knows. */
  readonly controllerId: number;
  /** Sorted by node id. */
  readonly brokers: readonly BrokerInfo[];
}

async function describe(
  connection: Connection,
  round: Round,
): Promise<Outcome<ClusterDescription>> {
  if (connection.versionFor(DescribeClusterRequest) === undefined) {
    // No topics (v0 lists every topic for an empty list, which is only more to read).
    const response = await connection.request(
      MetadataRequest,
      MetadataResponse,
      { topics: [] },
      round.request,
    );
    return {
      done: {
        clusterId: response.clusterId,
        controllerId: response.controllerId,
        brokers: response.brokers
          .map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      },
    };
  }
  const response = await connection.request(
    DescribeClusterRequest,
    DescribeClusterResponse,
    { includeClusterAuthorizedOperations: false },
    round.request,
  );
  if (response.errorCode !== ErrorCode.NONE) {
    const error = entityError(response.errorCode, 'cluster', response.errorMessage);
    return error.retriable ? { retry: error } : { failed: error };
  }
  return {
    done: {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: response.brokers
        .map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack }))
        .sort((a, b) => a.nodeId - b.nodeId),
    },
  };
}

export async function describeCluster(
  context: AdminContext,
  options: OperationOptions = {},
): Promise<ClusterDescription> {
  const [description] = await context.settle(
    [null],
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        () => context.cluster.anyConnection(),
        async (connection) => [await describe(connection, round)],
      ),
    (_, error) => {
      throw error;
    },
  );
  return description!;
}
