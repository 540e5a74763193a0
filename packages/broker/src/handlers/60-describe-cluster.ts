// DescribeCluster: v0-1
// * The cluster id, the controller (this node: a single node is its own controller) and this
//   broker with its advertised host and port (rack: none).
// * v1+ `endpoint_type`: 1 (brokers) is answered; 2 (controllers) is MISMATCHED_ENDPOINT_TYPE and
//   any other UNSUPPORTED_ENDPOINT_TYPE, with Kafka's messages (INVALID_REQUEST in v0).
// * `include_cluster_authorized_operations`: with no ACLs every operation is allowed, so the answer
//   is every cluster operation Kafka supports (as a Kafka broker without an authorizer answers);
//   otherwise INT32_MIN (not computed).
import {
  ApiKey,
  DescribeClusterRequest,
  DescribeClusterResponse,
  ErrorCode,
} from '@brook/protocol';
import { defineHandler } from './registry.ts';

const EndpointType = { unknown: 0, broker: 1, controller: 2 } as const;
const ENDPOINT_TYPE_NAMES: Readonly<Record<number, string>> = {
  [EndpointType.broker]: 'BROKER',
  [EndpointType.controller]: 'CONTROLLER',
};

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** AclOperation codes Kafka supports on the cluster resource. */
const CLUSTER_OPERATIONS = {
  create: 5,
  alter: 7,
  describe: 8,
  clusterAction: 9,
  describeConfigs: 10,
  alterConfigs: 11,
  idempotentWrite: 12,
} as const;
const ALL_CLUSTER_OPERATIONS = Object.values(CLUSTER_OPERATIONS).reduce(
  (bits, code) => bits | (1 << code),
  0,
);

export const describeClusterHandler = defineHandler({
  apiKey: ApiKey.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  request: DescribeClusterRequest,
  response: DescribeClusterResponse,
  async handle(request, context) {
    const { config, metadata } = context.broker;
    const version = context.apiVersion;
    const requested = request.endpointType;
    if (requested !== EndpointType.broker) {
      const known = ENDPOINT_TYPE_NAMES[requested];
      return {
        throttleTimeMs: 0,
        errorCode:
          version === 0
            ? ErrorCode.INVALID_REQUEST
            : known === undefined
              ? ErrorCode.UNSUPPORTED_ENDPOINT_TYPE
              : ErrorCode.MISMATCHED_ENDPOINT_TYPE,
        errorMessage:
          known === undefined
            ? `Unsupported endpoint type ${requested}`
            : `The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type ${known}`,
        clusterId: '',
        controllerId: -1,
        brokers: [],
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      ...(version >= 1 ? { endpointType: EndpointType.broker } : {}),
      clusterId: metadata.clusterId,
      controllerId: config.nodeId,
      brokers: [
        {
          brokerId: config.nodeId,
          host: config.advertisedHost,
          port: config.advertisedPort,
          rack: null,
        },
      ],
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
        ? ALL_CLUSTER_OPERATIONS
        : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
});
