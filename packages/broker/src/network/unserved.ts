/**
 * The answer to a request Brook does not serve: an API the protocol knows but no handler is
 * registered for, or a version outside its handler's range (and inside the spec's, so the body
 * decodes). It is the API's error response at the requested version, built as Kafka's
 * `AbstractRequest.getErrorResponse` builds it (generated per API from the specs: the error at
 * the top level and on every topic, partition or resource echoed from the request, the message
 * where the response has one), so the client gets an error it understands instead of a
 * dropped connection.
 *
 * The error is UNSUPPORTED_VERSION (35) in both cases:
 *
 * - It is what Kafka itself answers for an API the protocol has but the broker does not serve
 *   as configured (`getErrorResponse(UNSUPPORTED_VERSION)` in KafkaApis for ConsumerGroupHeartbeat
 *   and ConsumerGroupDescribe without the new group coordinator, GetTelemetrySubscriptions and
 *   PushTelemetry without a metrics plugin, the share-group APIs when share groups are off).
 * - It says what happened: ApiVersions did not list the API (or that version), so no version of
 *   it is supported, and the request itself is well-formed.
 * - Clients treat it as final and often fall back: the Java client raises a non-retriable
 *   UnsupportedVersionException and turns telemetry off on it, librdkafka fails the request,
 *   kafkajs marks it not retriable. A retriable code would make clients loop:
 *   COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR send a transactional producer back to
 *   FindCoordinator and the same request forever. INVALID_REQUEST is final too, but claims the
 *   request is malformed, which it is not.
 */
import { type ApiDescriptor, ApiKey, ErrorCode } from '@brook/protocol';
import type { ApiHandler } from '../handlers/registry.ts';

export interface Refusal {
  readonly errorCode: number;
  readonly errorMessage: string;
}

/** Why a decodable request is not served: the error and message its response carries. */
export function refusal(
  api: ApiDescriptor,
  handler: ApiHandler | undefined,
  version: number,
): Refusal {
  return {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    errorMessage:
      handler === undefined
        ? `Brook does not support ${api.name} (api key ${api.apiKey}) yet`
        : `Brook supports ${api.name} versions ${handler.minVersion}-${handler.maxVersion}, not ${version}`,
  };
}

/**
 * The error response body to a decoded request, or undefined when the request expects no
 * response: Produce with acks=0, for which Kafka closes the connection instead (the only way
 * such a producer learns of an error).
 */
export function errorResponseBody(
  api: ApiDescriptor,
  request: unknown,
  version: number,
  { errorCode, errorMessage }: Refusal,
): unknown {
  if (api.apiKey === ApiKey.Produce && (request as { acks: number }).acks === 0) return undefined;
  return api.errorResponse(request, version, errorCode, errorMessage);
}
