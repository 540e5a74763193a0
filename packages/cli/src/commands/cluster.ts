/**
 * `brook cluster info`: the cluster's id, controller and brokers (DescribeCluster, or Metadata
 * from older brokers), and what one broker said when the client connected (ApiVersions): each
 * API it serves with its version range and the version Brook's client uses, and its features.
 * Kafka's protocol has no field for a broker's software version: the finalized features (Kafka's
 * `metadata.version`, ...) are the nearest thing, so that is what is shown.
 */
import {
  API_TABLE,
  type ApiDescriptor,
  type ClusterDescription,
  type Connection,
} from '@brook/client';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  CommandError,
  clusterSettings,
  integer,
  json,
  table,
  withAdmin,
  write,
} from '../common.ts';
import type { Context } from '../io.ts';

interface InfoOptions {
  bootstrap?: string;
  bootstrapServer?: string;
  timeout?: number;
  json?: boolean;
  broker?: number;
}

export const register: Register = (program, context) => {
  const cluster = program
    .command('cluster')
    .description('the cluster: brokers, controller, cluster id, API versions')
    .addHelpText(
      'after',
      `
Examples:
  brook cluster info
  brook cluster info --json | jq .brokers`,
    );
  addClusterOptions(
    cluster
      .command('info')
      .description(
        'the cluster id, the controller, the brokers, and the API versions and features of a broker',
      )
      .option('--json', 'one JSON document on stdout, for scripts')
      .option(
        '--broker <id>',
        'whose API versions to show (default: the broker it reached first)',
        integer('--broker', { min: 0 }),
      ),
  )
    .addHelpText(
      'after',
      `
The API table shows, per API, the versions the broker serves (MIN to MAX) and the version
Brook's client uses with it (USABLE; '-' when none). Kafka's protocol does not carry a broker's
software version; its finalized features (such as metadata.version) are shown instead.

Examples:
  brook cluster info
  brook cluster info --broker 2
  brook cluster info --json | jq '.apiVersions.apis[] | select(.name == "Fetch")'`,
    )
    .action((options: InfoOptions) => info(context, options));
};

interface ApiRow {
  readonly name: string | null;
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly usableVersion: number | null;
}

interface Info {
  readonly description: ClusterDescription;
  readonly nodeId: number | null;
  readonly host: string;
  readonly port: number;
  readonly apis: readonly ApiRow[];
  readonly supportedFeatures: readonly { name: string; minVersion: number; maxVersion: number }[];
  readonly finalizedFeatures: readonly {
    name: string;
    minVersionLevel: number;
    maxVersionLevel: number;
  }[];
  readonly finalizedFeaturesEpoch: bigint;
}

const BY_KEY = new Map<number, ApiDescriptor>(API_TABLE.map((api) => [api.apiKey, api]));

async function info(context: Context, options: InfoOptions): Promise<void> {
  const settings = clusterSettings(options, context.io);
  const found = await withAdmin(settings, async (admin): Promise<Info> => {
    const description = await admin.describeCluster();
    let connection: Connection;
    if (options.broker !== undefined) {
      if (!description.brokers.some((b) => b.nodeId === options.broker)) {
        const ids = description.brokers.map((b) => b.nodeId).join(', ');
        throw new CommandError(
          `broker ${options.broker} is not in the cluster (its brokers: ${ids || 'none'})`,
        );
      }
      connection = await admin.cluster.connection(options.broker);
    } else {
      connection = await admin.cluster.anyConnection();
    }
    return infoOf(description, connection);
  });
  await write(context.io.stdout, options.json ? json(infoJson(found)) : infoText(found));
}

function infoOf(description: ClusterDescription, connection: Connection): Info {
  const answer = connection.apiVersionsResponse;
  const node = description.brokers.find(
    (b) => b.host === connection.host && b.port === connection.port,
  );
  const apis = [...(answer?.apiKeys ?? [])]
    .sort((a, b) => a.apiKey - b.apiKey)
    .map((api): ApiRow => {
      const ours = BY_KEY.get(api.apiKey);
      return {
        name: ours?.name ?? null,
        apiKey: api.apiKey,
        minVersion: api.minVersion,
        maxVersion: api.maxVersion,
        usableVersion: ours === undefined ? null : (connection.versionFor(ours.request) ?? null),
      };
    });
  return {
    description,
    nodeId: node?.nodeId ?? null,
    host: connection.host,
    port: connection.port,
    apis,
    supportedFeatures: (answer?.supportedFeatures ?? []).map((f) => ({
      name: f.name,
      minVersion: f.minVersion,
      maxVersion: f.maxVersion,
    })),
    finalizedFeatures: (answer?.finalizedFeatures ?? []).map((f) => ({
      name: f.name,
      minVersionLevel: f.minVersionLevel,
      maxVersionLevel: f.maxVersionLevel,
    })),
    finalizedFeaturesEpoch: answer?.finalizedFeaturesEpoch ?? -1n,
  };
}

function infoText(found: Info): string {
  const { description } = found;
  const features =
    found.finalizedFeatures.length === 0
      ? 'none finalized'
      : found.finalizedFeatures.map((f) => `${f.name}=${f.maxVersionLevel}`).join(', ');
  const controller = description.brokers.find((b) => b.nodeId === description.controllerId);
  const lines = [
    `Cluster id:  ${description.clusterId ?? '-'}`,
    `Controller:  ${description.controllerId < 0 ? 'none known' : description.controllerId}${controller === undefined ? '' : ` (${address(controller)})`}`,
    `Brokers:     ${description.brokers.length}`,
    `Version:     unknown (the Kafka protocol does not carry it); features: ${features}`,
  ];
  const brokers = table(
    ['BROKER', 'ADDRESS', 'RACK', 'CONTROLLER'],
    description.brokers.map((b) => [
      String(b.nodeId),
      address(b),
      b.rack ?? '-',
      b.nodeId === description.controllerId ? 'yes' : '-',
    ]),
  );
  const whose =
    found.nodeId === null
      ? `the broker at ${address(found)}`
      : `broker ${found.nodeId} (${address(found)})`;
  const apis = table(
    ['API', 'KEY', 'MIN', 'MAX', 'USABLE'],
    found.apis.map((api) => [
      api.name ?? 'unknown',
      String(api.apiKey),
      String(api.minVersion),
      String(api.maxVersion),
      api.usableVersion === null ? '-' : String(api.usableVersion),
    ]),
  );
  return `${lines.join('\n')}\n\n${brokers}\nAPI versions of ${whose}:\n${apis}`;
}

function infoJson(found: Info) {
  const { description } = found;
  return {
    clusterId: description.clusterId,
    controllerId: description.controllerId,
    brokers: description.brokers.map((b) => ({
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      rack: b.rack,
      controller: b.nodeId === description.controllerId,
    })),
    apiVersions: {
      nodeId: found.nodeId,
      host: found.host,
      port: found.port,
      apis: found.apis,
      supportedFeatures: found.supportedFeatures,
      finalizedFeatures: found.finalizedFeatures,
      finalizedFeaturesEpoch: found.finalizedFeaturesEpoch,
    },
  };
}

function address(broker: { host: string; port: number }): string {
  return broker.host.includes(':')
    ? `[${broker.host}]:${broker.port}`
    : `${broker.host}:${broker.port}`;
}
