/**
 * Configs: describe, and alter incrementally (KIP-339: set, delete, append, subtract per key).
 * A broker's own configs (a resource named by its node id) go to that broker, as Kafka's admin
 * sends them; topic and cluster-wide configs go to the controller, or any broker when the
 * metadata names none. Kafka's numeric enums are given here by name.
 */
import {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  ErrorCode,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
  type KafkaProtocolError,
} from '@brook/protocol';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  entityError,
  type OperationOptions,
  outcomeOf,
} from './admin-context.ts';

/** Kafka's ConfigResource.Type by name. */
const RESOURCE_TYPES = {
  topic: 2,
  broker: 4,
  'broker-logger': 8,
  'client-metrics': 16,
  group: 32,
} as const;
export type ConfigResourceType = keyof typeof RESOURCE_TYPES;

/** Kafka's ConfigEntry.ConfigSource by name (`unknown` for 0 and for codes not known here). */
const SOURCES = [
  'unknown',
  'dynamic-topic',
  'dynamic-broker',
  'dynamic-default-broker',
  'static-broker',
  'default',
  'dynamic-broker-logger',
  'client-metrics',
  'group',
] as const;
export type ConfigSource = (typeof SOURCES)[number];

/** Kafka's ConfigEntry.ConfigType by name. */
const TYPES = [
  'unknown',
  'boolean',
  'string',
  'int',
  'short',
  'long',
  'double',
  'list',
  'class',
  'password',
] as const;
export type ConfigType = (typeof TYPES)[number];

/** IncrementalAlterConfigs' AlterConfigOp.OpType by name. */
const OPERATIONS = { set: 0, delete: 1, append: 2, subtract: 3 } as const;
export type ConfigOperation = keyof typeof OPERATIONS;

export function configSourceName(source: number): ConfigSource {
  return SOURCES[source] ?? 'unknown';
}

export interface ConfigResource {
  readonly type: ConfigResourceType;
  /** A topic name; a broker's node id as a string, or '' for the cluster-wide broker defaults. */
  readonly name: string;
}

export interface DescribeConfigsResource extends ConfigResource {
  /** Only these keys; default every key. */
  readonly keys?: readonly string[];
}

export interface DescribeConfigsOptions extends OperationOptions {
  /** Each config's synonyms (its broker-level fallbacks), in precedence order. Default false. */
  readonly includeSynonyms?: boolean;
  /** Each config's documentation (v3+). Default false. */
  readonly includeDocumentation?: boolean;
}

export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: ConfigSource;
}

export interface ConfigEntry {
  readonly name: string;
  /** Null for a sensitive config, or one with no value. */
  readonly value: string | null;
  readonly readOnly: boolean;
  /** True when the value is the default (its source is `default`). */
  readonly isDefault: boolean;
  readonly source: ConfigSource;
  readonly isSensitive: boolean;
  readonly synonyms: readonly ConfigSynonym[];
  /** `unknown` before v3. */
  readonly type: ConfigType;
  readonly documentation: string | null;
}

export interface DescribedConfigs extends ConfigResource {
  readonly configs: readonly ConfigEntry[];
  readonly error: KafkaProtocolError | null;
}

export interface ConfigAlteration {
  readonly name: string;
  readonly operation: ConfigOperation;
  /** The value to set, or the items to append or subtract (comma-separated); none to delete. */
  readonly value?: string;
}

export interface AlterConfigsResource extends ConfigResource {
  readonly configs: readonly ConfigAlteration[];
}

export interface AlterConfigsOptions extends OperationOptions {
  /** Check everything, change nothing. Default false. */
  readonly validateOnly?: boolean;
}

export interface AlteredConfigs extends ConfigResource {
  readonly error: KafkaProtocolError | null;
}

function resourceLabel(resource: ConfigResource): string {
  return `${resource.type} ${resource.name === '' ? '(cluster default)' : resource.name}`;
}

/** Where a resource's request goes: a broker's own configs to that broker, the rest anywhere. */
async function route(context: AdminContext, resource: ConfigResource): Promise<Connection> {
  const perBroker =
    (resource.type === 'broker' || resource.type === 'broker-logger') &&
    /^\d+$/.test(resource.name);
  if (!perBroker) return context.controller();
  const nodeId = Number(resource.name);
  const known = () => context.cluster.brokers.some((b) => b.nodeId === nodeId);
  if (!known()) await context.cluster.refreshMetadata([]);
  if (!known()) {
    throw entityError(
      ErrorCode.BROKER_NOT_AVAILABLE,
      resourceLabel(resource),
      `broker ${nodeId} is not in the cluster`,
    );
  }
  return context.cluster.connection(nodeId);
}

function resourceKey(type: number, name: string): string {
  return `${type}\u0000${name}`;
}

export async function describeConfigs(
  context: AdminContext,
  resources: readonly DescribeConfigsResource[],
  options: DescribeConfigsOptions = {},
): Promise<DescribedConfigs[]> {
  return context.settle(
    resources,
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        (resource) => route(context, resource),
        async (connection, batch) => {
          const { response, version } = await connection.requestWithVersion(
            DescribeConfigsRequest,
            DescribeConfigsResponse,
            (v) => ({
              resources: batch.map((resource) => ({
                resourceType: RESOURCE_TYPES[resource.type],
                resourceName: resource.name,
                configurationKeys: resource.keys ?? null,
              })),
              ...(v >= 1 ? { includeSynonyms: options.includeSynonyms ?? false } : {}),
              ...(v >= 3 ? { includeDocumentation: options.includeDocumentation ?? false } : {}),
            }),
            round.request,
          );
          const byKey = new Map(
            response.results.map((r) => [resourceKey(r.resourceType, r.resourceName), r]),
          );
          return batch.map((resource) => {
            const answer = byKey.get(resourceKey(RESOURCE_TYPES[resource.type], resource.name));
            return outcomeOf(
              answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
              resourceLabel(resource),
              answer?.errorMessage ?? null,
              () => ({
                type: resource.type,
                name: resource.name,
                configs: answer!.configs.map((c) => {
                  // v0 has no source, only whether the value is the default.
                  const source =
                    version >= 1
                      ? configSourceName(c.configSource)
                      : c.isDefault
                        ? 'default'
                        : 'unknown';
                  return {
                    name: c.name,
                    value: c.value,
                    readOnly: c.readOnly,
                    isDefault: version >= 1 ? source === 'default' : c.isDefault,
                    source,
                    isSensitive: c.isSensitive,
                    synonyms: c.synonyms.map((s) => ({
                      name: s.name,
                      value: s.value,
                      source: configSourceName(s.source),
                    })),
                    type: TYPES[c.configType] ?? 'unknown',
                    documentation: c.documentation,
                  };
                }),
                error: null,
              }),
            );
          });
        },
        (resource) => {
          if (resource.type !== 'broker' && resource.type !== 'broker-logger') {
            context.controllerMoved();
          }
        },
      ),
    (resource, error): DescribedConfigs => ({
      type: resource.type,
      name: resource.name,
      configs: [],
      error,
    }),
  );
}

export async function incrementalAlterConfigs(
  context: AdminContext,
  resources: readonly AlterConfigsResource[],
  options: AlterConfigsOptions = {},
): Promise<AlteredConfigs[]> {
  const results = await context.settle(
    resources,
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        (resource) => route(context, resource),
        async (connection, batch) => {
          const response = await connection.request(
            IncrementalAlterConfigsRequest,
            IncrementalAlterConfigsResponse,
            {
              resources: batch.map((resource) => ({
                resourceType: RESOURCE_TYPES[resource.type],
                resourceName: resource.name,
                configs: resource.configs.map((c) => ({
                  name: c.name,
                  configOperation: OPERATIONS[c.operation],
                  value: c.value ?? null,
                })),
              })),
              validateOnly: options.validateOnly ?? false,
            },
            round.request,
          );
          const byKey = new Map(
            response.responses.map((r) => [resourceKey(r.resourceType, r.resourceName), r]),
          );
          const outcomes = batch.map((resource) => {
            const answer = byKey.get(resourceKey(RESOURCE_TYPES[resource.type], resource.name));
            return outcomeOf(
              answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
              resourceLabel(resource),
              answer?.errorMessage ?? null,
              () => ({ type: resource.type, name: resource.name, error: null }),
            );
          });
          if (response.responses.some((r) => r.errorCode === ErrorCode.NOT_CONTROLLER)) {
            context.controllerMoved();
          }
          return outcomes;
        },
        () => context.controllerMoved(),
      ),
    (resource, error): AlteredConfigs => ({ type: resource.type, name: resource.name, error }),
  );
  if (!options.validateOnly && resources.some((r) => r.type === 'topic')) {
    context.cluster.invalidateMetadata();
  }
  return results;
}
