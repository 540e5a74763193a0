// ApiVersions: v0-4
// * The list comes from the handler registry, so it is exactly what Brook serves.
// * v3+: the client's software name and version are logged.
// * Unsupported versions are answered in v0 by the connection (network/connection.ts).
import { ApiKey, ApiVersionsRequest, ApiVersionsResponse, ErrorCode } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const apiVersionsHandler = defineHandler({
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 4,
  request: ApiVersionsRequest,
  response: ApiVersionsResponse,
  async handle(request, context) {
    if (context.apiVersion >= 3) {
      context.logger.log('debug', 'client software', {
        name: request.clientSoftwareName,
        version: request.clientSoftwareVersion,
      });
      const valid = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;
      if (!valid.test(request.clientSoftwareName) || !valid.test(request.clientSoftwareVersion)) {
        return {
          errorCode: ErrorCode.INVALID_REQUEST,
          apiKeys: context.broker.registry.apiVersions(),
          throttleTimeMs: 0,
        };
      }
    }
    return {
      errorCode: ErrorCode.NONE,
      apiKeys: context.broker.registry.apiVersions(),
      throttleTimeMs: 0,
    };
  },
});
