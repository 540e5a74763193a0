/**
 * Every API the broker serves registers here, with the versions it supports. ApiVersions answers
 * from this registry, and the connection refuses versions outside it, so what Brook advertises
 * cannot drift from what it implements.
 */
import type { MessageCodec, RequestHeader } from '@brook/protocol';
import type { BrokerContext } from '../broker-context.ts';
import type { Logger } from '../logger.ts';

/** What a handler knows of the request besides its body. */
export interface RequestContext {
  readonly broker: BrokerContext;
  readonly header: RequestHeader;
  readonly apiVersion: number;
  readonly connectionId: string;
  /** The client's address as Kafka shows it (`/127.0.0.1`): group members' client host. */
  readonly clientHost: string;
  readonly logger: Logger;
  /** Aborted when the connection closes (long polls stop waiting). */
  readonly signal: AbortSignal;
  /**
   * Calls `callback` once the response has been handed to the socket in full, or once it is
   * certain never to be (the connection closed): buffers the response refers to can be reused
   * from then on. Not called when the handler throws (its buffers are left to the collector).
   */
  afterResponse(callback: () => void): void;
}

export interface ApiHandler<Request = unknown, ResponseInput = unknown> {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly request: MessageCodec<Request, unknown>;
  readonly response: MessageCodec<unknown, ResponseInput>;
  /** The response body; undefined when the request expects none (Produce with acks=0). */
  handle(request: Request, context: RequestContext): Promise<ResponseInput | undefined>;
}

/** Builds a handler with the request and response types of its codecs. */
export function defineHandler<Request, ResponseInput>(
  handler: ApiHandler<Request, ResponseInput>,
): ApiHandler {
  return handler as unknown as ApiHandler;
}

export class HandlerRegistry {
  private readonly byKey: (ApiHandler | undefined)[] = [];

  register(handler: ApiHandler): void {
    if (
      handler.minVersion < handler.request.minVersion ||
      handler.maxVersion > handler.request.maxVersion
    ) {
      throw new Error(
        `${handler.request.name}: versions ${handler.minVersion}-${handler.maxVersion} exceed the spec`,
      );
    }
    if (this.byKey[handler.apiKey] !== undefined)
      throw new Error(`api key ${handler.apiKey} registered twice`);
    this.byKey[handler.apiKey] = handler;
  }

  get(apiKey: number): ApiHandler | undefined {
    return this.byKey[apiKey];
  }

  /** The ApiVersions entries: every registered API with its version range, by api key. */
  apiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return this.byKey.flatMap((handler) =>
      handler === undefined
        ? []
        : [
            {
              apiKey: handler.apiKey,
              minVersion: handler.minVersion,
              maxVersion: handler.maxVersion,
            },
          ],
    );
  }
}
